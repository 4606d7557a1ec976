//! The tablets' lean HTTP client.

use anyhow::Context as _;

/// One tablet's keep-alive HTTP/1.1 connection. Requests are written and responses
/// read by hand (a body of `Content-Length` bytes, as the service sends), so the load
/// generator spends about what a lean client such as wrk does per request and leaves
/// the machine's CPU to the service and Postgres, which are what is measured.
pub struct Conn {
    addr: String,
    stream: Option<tokio::net::TcpStream>,
    out: Vec<u8>,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new(addr: String) -> Conn {
        Conn {
            addr,
            stream: None,
            out: Vec::with_capacity(1024),
            buf: Vec::with_capacity(8192),
        }
    }

    /// POSTs a JSON body; returns the response's status once its body is read.
    pub async fn post(
        &mut self,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: &str,
    ) -> anyhow::Result<u16> {
        let r = self.exchange(path, token, key, body).await;
        if r.is_err() {
            self.stream = None;
        }
        r
    }

    async fn exchange(
        &mut self,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: &str,
    ) -> anyhow::Result<u16> {
        use std::io::Write as _;
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        if self.stream.is_none() {
            let s = tokio::net::TcpStream::connect(&self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
            self.buf.clear();
        }
        let Some(stream) = self.stream.as_mut() else {
            anyhow::bail!("no connection");
        };
        self.out.clear();
        write!(
            self.out,
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        )?;
        if let Some(k) = key {
            write!(self.out, "Idempotency-Key: {k}\r\n")?;
        }
        self.out.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(body.as_bytes());
        stream.write_all(&self.out).await?;

        let (head, status, length, close) = loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end])?;
                let status: u16 = head.get(9..12).context("short status line")?.parse()?;
                let (mut length, mut close) = (0usize, false);
                for line in head.split("\r\n").skip(1) {
                    let Some((name, value)) = line.split_once(':') else {
                        continue;
                    };
                    let value = value.trim();
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.parse()?;
                    } else if name.eq_ignore_ascii_case("transfer-encoding") {
                        anyhow::bail!("chunked responses are not read");
                    } else if name.eq_ignore_ascii_case("connection") {
                        close = value.eq_ignore_ascii_case("close");
                    }
                }
                break (end + 4, status, length, close);
            }
            if stream.read_buf(&mut self.buf).await? == 0 {
                anyhow::bail!("connection closed");
            }
        };
        while self.buf.len() < head + length {
            if stream.read_buf(&mut self.buf).await? == 0 {
                anyhow::bail!("connection closed");
            }
        }
        self.buf.drain(..head + length);
        if close {
            self.stream = None;
        }
        Ok(status)
    }
}
