//! The services as production runs them: each its own process (merchant-redemption
//! twice, as two instances behind the proxy), sharing only what production shares —
//! the Postgres database, Redis and the folder of staff-token keys. Each test gets its
//! own database (`#[sqlx::test]`) and its own processes on free ports.
//!
//! The binaries are the ones `cargo test --workspace` builds beside this test
//! (`target/<profile>/`); `bash deploy/test.sh` runs it that way.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kernel::{MerchantId, Role};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

pub struct System {
    pub issuing: String,
    /// Two instances of merchant-redemption.
    pub redemption: [String; 2],
    pub settlement: String,
    pub http: reqwest::Client,
    /// Sent as `X-Forwarded-For` with every request (a client behind the proxy).
    forwarded_for: Option<String>,
    /// Settings for every process beyond the harness's own.
    env: Vec<(String, String)>,
    dir: PathBuf,
    children: Vec<(String, Child)>,
}

impl System {
    /// Starts card-issuing, two merchant-redemption instances and settlement on the
    /// test's database, and waits until each is ready.
    pub async fn start(admin: &PgPool) -> System {
        System::start_with(admin, &[]).await
    }

    /// `start`, with these settings (`TOWNCARD__…` variables) for every process.
    pub async fn start_with(admin: &PgPool, env: &[(&str, &str)]) -> System {
        let opts = admin.connect_options();
        let db = opts.get_database().unwrap_or("postgres");
        let url = format!(
            "postgres://towncard_app@{}:{}/{db}",
            opts.get_host(),
            opts.get_port()
        );
        let dir = std::env::temp_dir().join(format!("towncard-system-{}", Uuid::now_v7()));
        let keys = dir.join("keys");
        platform::auth::generate_key_file(&keys).unwrap_or_else(|e| panic!("{e}"));
        let mut sys = System {
            issuing: String::new(),
            redemption: [String::new(), String::new()],
            settlement: String::new(),
            http: reqwest::Client::new(),
            forwarded_for: None,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            dir,
            children: Vec::new(),
        };
        for (n, binary) in [
            "card-issuing",
            "merchant-redemption",
            "merchant-redemption",
            "settlement",
        ]
        .into_iter()
        .enumerate()
        {
            let base = sys.spawn(&format!("{binary}-{n}"), binary, &url, &keys);
            match n {
                0 => sys.issuing = base,
                1 | 2 => sys.redemption[n - 1] = base,
                _ => sys.settlement = base,
            }
        }
        let bases = [
            sys.issuing.clone(),
            sys.redemption[0].clone(),
            sys.redemption[1].clone(),
            sys.settlement.clone(),
        ];
        for (n, base) in bases.iter().enumerate() {
            sys.wait_ready(n, base).await;
        }
        sys
    }

    fn spawn(&mut self, name: &str, binary: &str, db_url: &str, keys: &Path) -> String {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let log = self.dir.join(format!("{name}.log"));
        let out = File::create(&log).unwrap_or_else(|e| panic!("{e}"));
        let err = out.try_clone().unwrap_or_else(|e| panic!("{e}"));
        let redis =
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
        let mut cmd = Command::new(executable(binary));
        // Only what is set here: no setting of the caller's leaks in.
        for (k, _) in std::env::vars() {
            if k.starts_with("TOWNCARD") {
                cmd.env_remove(k);
            }
        }
        cmd.env("TOWNCARD__SERVER__HOST", "127.0.0.1")
            .env("TOWNCARD__SERVER__PORT", port.to_string())
            .env("TOWNCARD__SERVER__PUBLIC_URL", &base)
            .env("TOWNCARD__DATABASE__URL", db_url)
            .env("TOWNCARD__DATABASE__MAX_CONNECTIONS", "6")
            .env("TOWNCARD__REDIS__URL", redis)
            .env("TOWNCARD__AUTH__KEYS_DIR", keys)
            // Every test logs in from 127.0.0.1; the login limit has its own test.
            .env("TOWNCARD__AUTH__LOGIN_PER_MINUTE", "0")
            // Likewise the tablets' unlocks and enrolments (a burst of 30 s worth, so
            // that another test's pace on the same address does not refuse these), and
            // a test's tablet scans faster than a cashier could.
            .env("TOWNCARD_REDEMPTION_UNLOCK_PER_MINUTE", "60000")
            .env("TOWNCARD_REDEMPTION_DEVICE_PER_MINUTE", "60000")
            .env("TOWNCARD__LOG__FILTER", "info,sqlx=warn")
            // The proxy of `proxy.rs` runs on this host.
            .env("TOWNCARD__SERVER__TRUSTED_PROXIES", "127.0.0.1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{binary}: {e} (build it first: cargo build --bins)"));
        self.children.push((name.to_owned(), child));
        base
    }

    async fn wait_ready(&mut self, n: usize, base: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.http.get(format!("{base}/readyz")).send().await
                && r.status() == 200
            {
                return;
            }
            let exited = self.children[n].1.try_wait();
            let name = &self.children[n].0;
            if let Ok(Some(status)) = exited {
                panic!("{name} exited ({status}):\n{}", self.log_of(n));
            }
            assert!(
                Instant::now() < deadline,
                "{name} not ready after 30 s:\n{}",
                self.log_of(n)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log_of(&self, n: usize) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.log", self.children[n].0)))
            .unwrap_or_default()
    }

    /// The same services as seen through one origin (`base`, the proxy), by a
    /// client at `client` (sent as `X-Forwarded-For`, which the proxy extends).
    pub fn through(&self, base: &str, client: &str) -> System {
        System {
            issuing: base.to_owned(),
            redemption: [base.to_owned(), base.to_owned()],
            settlement: base.to_owned(),
            http: self.http.clone(),
            forwarded_for: Some(client.to_owned()),
            env: Vec::new(),
            dir: PathBuf::new(),
            children: Vec::new(),
        }
    }

    /// Everything every process has written so far.
    pub fn logs(&self) -> String {
        (0..self.children.len()).map(|n| self.log_of(n)).collect()
    }

    /// A request to one service; returns the status and the JSON body (null if none).
    pub async fn call(
        &self,
        method: Method,
        url: String,
        bearer: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, url);
        if !bearer.is_empty() {
            req = req.bearer_auth(bearer);
        }
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(c) = &self.forwarded_for {
            req = req.header("X-Forwarded-For", c);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap_or_else(|e| panic!("{e}"));
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, base: &str, path: &str, bearer: &str, body: Value) -> (u16, Value) {
        self.call(
            Method::POST,
            format!("{base}{path}"),
            bearer,
            None,
            Some(body),
        )
        .await
    }

    pub async fn get(&self, base: &str, path: &str, bearer: &str) -> (u16, Value) {
        self.call(Method::GET, format!("{base}{path}"), bearer, None, None)
            .await
    }

    /// A staff member's password login at `base`; returns the access token.
    pub async fn login(&self, base: &str, town: &str, email: &str, password: &str) -> String {
        let (s, v) = self
            .post(
                base,
                "/auth/login",
                "",
                json!({"town": town, "email": email, "password": password}),
            )
            .await;
        assert_eq!(s, 200, "login {email} at {base}: {v}");
        text(&v["access_token"])
    }
}

impl Drop for System {
    fn drop(&mut self) {
        if self.children.is_empty() {
            return;
        }
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// nginx with the shipped site (`deploy/nginx/towncard.conf`) in front of a
/// `System`: its upstreams pointed at the system's ports, its `listen` at a free one.
pub struct Proxy {
    pub base: String,
    dir: PathBuf,
    child: Child,
}

impl Proxy {
    pub async fn start(sys: &System) -> Proxy {
        let site = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx/towncard.conf"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let port = free_port();
        let ports: Vec<String> = [
            &sys.issuing,
            &sys.redemption[0],
            &sys.redemption[1],
            &sys.settlement,
        ]
        .iter()
        .map(|b| b.trim_start_matches("http://").to_owned())
        .collect();
        let mut site = site.replace("listen 8080;", &format!("listen 127.0.0.1:{port};"));
        for (n, shipped) in ["8081", "8082", "8083", "8084"].iter().enumerate() {
            let line = format!("server 127.0.0.1:{shipped};");
            assert!(site.contains(&line), "the shipped site has no `{line}`");
            site = site.replace(&line, &format!("server {};", ports[n]));
        }
        let dir = sys.dir.join("nginx");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("towncard.conf"), site).unwrap_or_else(|e| panic!("{e}"));
        let d = dir.display();
        let main = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{}}\nhttp {{\n  access_log {d}/access.log;\n\
               client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n\
               scgi_temp_path {d}/scgi;\n  include {d}/towncard.conf;\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), main).unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new("nginx")
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("nginx: {e} (deploy/lib.sh installs it)"));
        let mut proxy = Proxy {
            base: format!("http://127.0.0.1:{port}"),
            dir,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(r) = sys.http.get(format!("{}/readyz", proxy.base)).send().await
                && r.status() == 200
            {
                return proxy;
            }
            if let Ok(Some(status)) = proxy.child.try_wait() {
                panic!("nginx exited ({status}): {}", proxy.error_log());
            }
            assert!(
                Instant::now() < deadline,
                "nginx not ready: {}",
                proxy.error_log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `target/<profile>/<name>`, beside the folder of this test's own executable.
fn executable(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("{} has no profile folder", exe.display()));
    profile.join(name)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"))
}

pub fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Today in the towns' zone (a promotion's dates and a period's month are local).
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Ljubljana)
        .date_naive()
}

pub const PASSWORD: &str = "dolgo-geslo-1";
pub const PIN: &str = "4821";

/// A town set up through the services' APIs, as its people would: the town's admin,
/// a desk operator, a card product, a merchant with its owner, a joint promotion the
/// merchant joined and the town approved, and an unlocked tablet at the counter.
pub struct Town {
    pub admin: String,
    pub desk: String,
    pub owner: String,
    pub merchant: MerchantId,
    pub promotion: Uuid,
    /// The unlocked tablet's session.
    pub tablet: String,
    /// The tablet's own credential (enrolment).
    pub credential: String,
}

impl Town {
    pub async fn set_up(sys: &System, admin_db: &PgPool, slug: &str, code: i16) -> Town {
        let id = platform::testing::make_town(admin_db, slug, code).await;
        let email = |who: &str| format!("{who}@{slug}.si");
        for (who, role) in [("uprava", Role::TownAdmin), ("tic", Role::TicOperator)] {
            platform::testing::make_staff(admin_db, id, role, None, &email(who), PASSWORD).await;
        }
        // Each logs in at a different service: the tokens hold at all of them.
        let admin = sys
            .login(&sys.settlement, slug, &email("uprava"), PASSWORD)
            .await;
        let desk = sys.login(&sys.issuing, slug, &email("tic"), PASSWORD).await;

        let (s, v) = sys
            .post(
                &sys.issuing,
                "/issuing/v1/card-products",
                &admin,
                json!({"code": "KC48", "kind": "tourist_hours", "validity_hours": 48, "price": "22.00",
                       "names": {"sl": "Koper Card 48 ur", "en": "Koper Card 48 hours", "it": "Koper Card 48 ore"}}),
            )
            .await;
        assert_eq!(s, 201, "product: {v}");

        let [a, b] = &sys.redemption;
        let (s, v) = sys
            .post(
                a,
                "/redemption/v1/merchants",
                &admin,
                json!({"name": "Kavarna Loggia", "category": "cafe", "iban": "SI56191000000123438"}),
            )
            .await;
        assert_eq!(s, 201, "merchant: {v}");
        let merchant = MerchantId::from_uuid(uuid(&v["id"]));
        platform::testing::make_staff(
            admin_db,
            id,
            Role::MerchantOwner,
            Some(merchant),
            &email("loggia"),
            PASSWORD,
        )
        .await;
        let owner = sys.login(b, slug, &email("loggia"), PASSWORD).await;

        let day = today();
        let (s, v) = sys
            .post(
                a,
                "/redemption/v1/promotions",
                &admin,
                json!({"name": "Razvajaj se v mestu", "co_financing_percent": "50",
                       "starts_on": day.pred_opt(), "ends_on": day.succ_opt(), "requires_approval": true,
                       "budget_total": "100.00",
                       "rules": {"benefit": {"kind": "percent", "value": "10"}, "per_card_per_day": 3}}),
            )
            .await;
        assert_eq!(s, 201, "promotion: {v}");
        let promotion = uuid(&v["id"]);
        let (s, v) = sys
            .post(
                b,
                &format!("/redemption/v1/promotions/{promotion}/join"),
                &owner,
                json!({}),
            )
            .await;
        assert_eq!((s, text(&v["status"])), (200, "pending".into()), "{v}");
        let (s, v) = sys
            .post(
                a,
                &format!("/redemption/v1/promotions/{promotion}/merchants/{merchant}/approve"),
                &admin,
                json!({}),
            )
            .await;
        assert_eq!((s, text(&v["status"])), (200, "approved".into()), "{v}");

        // The owner adds a cashier with a PIN and enrols the counter tablet, which
        // the cashier then unlocks.
        let (s, v) = sys
            .post(
                a,
                &format!("/redemption/v1/merchants/{merchant}/staff"),
                &owner,
                json!({"email": email("ana"), "display_name": "Ana", "password": PASSWORD, "pin": PIN}),
            )
            .await;
        assert_eq!(s, 201, "staff: {v}");
        let (s, code) = sys
            .post(
                a,
                &format!("/redemption/v1/merchants/{merchant}/enrolment-codes"),
                &owner,
                json!({"device_name": "Blagajna 1"}),
            )
            .await;
        assert_eq!(s, 201, "enrolment code: {code}");
        let (s, dev) = sys
            .post(
                b,
                "/redemption/v1/devices/enrol",
                "",
                json!({"town": slug, "code": code["code"]}),
            )
            .await;
        assert_eq!(s, 201, "enrol: {dev}");
        let credential = text(&dev["credential"]);
        let (s, v) = sys
            .post(
                a,
                "/redemption/v1/devices/unlock",
                "",
                json!({"credential": credential, "email": email("ana"), "pin": PIN}),
            )
            .await;
        assert_eq!(s, 200, "unlock: {v}");
        Town {
            admin,
            desk,
            owner,
            merchant,
            promotion,
            tablet: text(&v["access_token"]),
            credential,
        }
    }

    /// A card sold at the desk (card-issuing): its number and its QR token.
    pub async fn sell_card(&self, sys: &System) -> (String, String) {
        let (s, v) = sys
            .post(
                &sys.issuing,
                "/issuing/v1/cards",
                &self.desk,
                json!({"product_code": "KC48", "holder_name": "Ana Novak", "holder_lang": "sl"}),
            )
            .await;
        assert_eq!(s, 201, "issue: {v}");
        let number = text(&v["number"]);
        let (s, t) = sys
            .get(
                &sys.issuing,
                &format!("/issuing/v1/cards/{number}/token"),
                &self.desk,
            )
            .await;
        assert_eq!(s, 200, "token: {t}");
        (number, text(&t["token"]))
    }

    /// A scan at one redemption instance, with a basket.
    pub async fn scan(&self, sys: &System, at: &str, token: &str, basket: &str) -> (u16, Value) {
        sys.post(
            at,
            "/redemption/v1/scan",
            &self.tablet,
            json!({"token": token, "basket": basket}),
        )
        .await
    }
}

pub fn uuid(v: &Value) -> Uuid {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a UUID: {v}"))
}
