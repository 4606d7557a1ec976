//! The client's address, for per-address rate limits, also behind a reverse proxy.
//!
//! Production puts the services behind one proxy (docs/operations.md): every
//! connection then comes from the proxy, and a per-address limit would throttle all
//! of a town's staff together. When the peer is one of `server.trusted_proxies`, the
//! client is the nearest address in `X-Forwarded-For` that is not itself a trusted
//! proxy; from any other peer the header is ignored (anyone can send it).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::serve::Context;

/// `server.trusted_proxies`: addresses or CIDR blocks, comma-separated.
pub fn parse_trusted(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{s:?} is not an address or a CIDR block"))
        })
        .collect()
}

/// The client behind `peer`: `peer` itself unless it is trusted; then each hop of
/// `forwarded_for` from the right, until one that is not trusted (or unreadable).
pub fn client_ip(peer: IpAddr, forwarded_for: &str, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let mut client = peer.to_canonical();
    if !is_trusted(&client) {
        return client;
    }
    for hop in forwarded_for.rsplit(',') {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            break;
        };
        client = ip.to_canonical();
        if !is_trusted(&client) {
            break;
        }
    }
    client
}

/// The client's address; `None` when the server was not started with the peer's
/// address (`into_make_service_with_connect_info`).
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<Context> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, ctx: &Context) -> Result<Self, Self::Rejection> {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Ok(ClientIp(None));
        };
        // Checked at start-up (`Settings::validate`).
        let trusted = parse_trusted(&ctx.settings.server.trusted_proxies).unwrap_or_default();
        // Several headers read as one list, in order.
        let hops: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(ClientIp(Some(client_ip(
            peer.ip(),
            &hops.join(","),
            &trusted,
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let trusted = parse_trusted("127.0.0.1, 10.0.0.0/8").unwrap_or_default();
        assert_eq!(trusted.len(), 2);
        let xff = "198.51.100.7, 10.1.2.3";
        // From the proxy: past the trusted hop to the client.
        assert_eq!(
            client_ip(ip("127.0.0.1"), xff, &trusted),
            ip("198.51.100.7")
        );
        // A client that sends the header itself is still only its own address.
        assert_eq!(
            client_ip(ip("203.0.113.9"), xff, &trusted),
            ip("203.0.113.9")
        );
        // A forged entry left of the real client is not reached.
        assert_eq!(
            client_ip(ip("127.0.0.1"), "1.2.3.4, 198.51.100.7", &trusted),
            ip("198.51.100.7")
        );
        // Nothing trusted (the default): the peer.
        assert_eq!(client_ip(ip("127.0.0.1"), xff, &[]), ip("127.0.0.1"));
        // No header, or an unreadable hop: the last address known.
        assert_eq!(client_ip(ip("127.0.0.1"), "", &trusted), ip("127.0.0.1"));
        assert_eq!(
            client_ip(ip("127.0.0.1"), "junk, 10.0.0.5", &trusted),
            ip("10.0.0.5")
        );
        // An IPv4 peer seen on a dual-stack socket.
        assert_eq!(
            client_ip(ip("::ffff:127.0.0.1"), "198.51.100.7", &trusted),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_bad_entry_is_named() {
        assert_eq!(
            parse_trusted("127.0.0.1, proxy.local"),
            Err("\"proxy.local\" is not an address or a CIDR block".into())
        );
        assert_eq!(parse_trusted(" ").map(|v| v.len()), Ok(0));
    }
}
