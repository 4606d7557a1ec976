//! Every documented operation of the three services, sent bad input by every demo
//! role and by no one: path parameters that are real, unknown or malformed, bodies
//! that are not objects or whose fields have the wrong type or extreme values, and
//! garbage in the query. Each answer must be a clear client error or a success,
//! never a server error: the OpenAPI documents drive it, so a new route is swept too.

use std::time::Duration;

use serde_json::{Map, Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use platform::testing::{context_with, settings, spawn};

mod common;
use common::documents;

/// Real values for path parameters, from the seeded demo.
struct Real {
    merchant: String,
    promotion: String,
    redemption: String,
    batch: String,
    card: String,
    page_code: String,
    device: String,
    staff: String,
    benefit: String,
    receipt: String,
}

async fn first(admin: &PgPool, sql: &'static str) -> String {
    sqlx::query_scalar::<_, String>(sql)
        .fetch_optional(admin)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_else(|| Uuid::nil().to_string())
}

impl Real {
    async fn load(admin: &PgPool) -> Real {
        Real {
            merchant: first(
                admin,
                "SELECT id::text FROM merchants WHERE name = 'Kavarna Loggia'",
            )
            .await,
            promotion: first(admin, "SELECT id::text FROM promotions ORDER BY id LIMIT 1").await,
            redemption: first(
                admin,
                "SELECT id::text FROM redemptions ORDER BY recorded_at LIMIT 1",
            )
            .await,
            batch: first(admin, "SELECT id::text FROM card_batches LIMIT 1").await,
            card: first(admin, "SELECT number FROM cards ORDER BY number LIMIT 1").await,
            page_code: first(
                admin,
                "SELECT page_code FROM cards WHERE page_code IS NOT NULL LIMIT 1",
            )
            .await,
            device: first(admin, "SELECT id::text FROM devices LIMIT 1").await,
            staff: first(
                admin,
                "SELECT id::text FROM staff_users WHERE merchant_id IS NOT NULL LIMIT 1",
            )
            .await,
            benefit: first(admin, "SELECT id::text FROM product_benefits LIMIT 1").await,
            receipt: first(admin, "SELECT receipt_number FROM redemptions LIMIT 1").await,
        }
    }

    /// The real value of a path parameter, by its name and the segment before it.
    fn value(&self, path: &str, name: &str) -> String {
        let before = path
            .split(&format!("/{{{name}}}"))
            .next()
            .and_then(|p| p.rsplit('/').next())
            .unwrap_or_default();
        let v = match (before, name) {
            ("merchants", "id") | (_, "merchant") | (_, "merchant_id") => &self.merchant,
            ("promotions", "id") => &self.promotion,
            ("redemptions", "id") => &self.redemption,
            ("batches", "id") => &self.batch,
            (_, "number") => &self.card,
            (_, "code") => &self.page_code,
            (_, "device_id") => &self.device,
            (_, "staff_id") => &self.staff,
            (_, "benefit_id") => &self.benefit,
            (_, "receipt") => &self.receipt,
            (_, "month") => return chrono::Utc::now().format("%Y-%m").to_string(),
            (_, "slug") => return towncard::seed::TOWN_SLUG.into(),
            (_, "action") => return "suspend".into(),
            (_, "name") => return "redemptions.csv".into(),
            _ => return Uuid::nil().to_string(),
        };
        v.clone()
    }
}

/// Path parameters as a client may send them: real, unknown, or malformed.
const PATH_GARBAGE: &[&str] = &[
    "00000000-0000-0000-0000-000000000000",
    "x",
    "2026-13",
    "-1",
    "999999999999999999999999999999999999",
    "%FF%FE",
    "%00",
];

/// A schema's properties, following a `$ref` into the document's components.
fn properties(doc: &Value, schema: &Value) -> Map<String, Value> {
    let schema = match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    };
    schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default()
}

fn kind(doc: &Value, prop: &Value) -> String {
    let prop = match prop["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap_or_default()],
        None => prop,
    };
    match &prop["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("string")
            .to_owned(),
        _ if prop["properties"].is_object() => "object".into(),
        _ => "string".into(),
    }
}

/// A field's value in one of the body variants, by the field's JSON type.
type ValueOf = fn(&str) -> Value;

/// Bodies for an operation that takes one: not objects, then its own fields with
/// the wrong type, extreme values, edge values and empty values.
fn bodies(doc: &Value, op: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = [
        ("not json", "{\"basket\": "),
        ("null", "null"),
        ("array", "[1, 2]"),
        ("empty object", "{}"),
        ("string", "\"x\""),
        ("nul", "{\"name\": \"a\\u0000b\"}"),
    ]
    .iter()
    .map(|(n, b)| ((*n).to_owned(), (*b).to_owned()))
    .collect();
    let Some(schema) = op["requestBody"]["content"]
        .as_object()
        .and_then(|c| c.values().next())
        .map(|c| c["schema"].clone())
    else {
        return out;
    };
    let props = properties(doc, &schema);
    if props.is_empty() {
        return out;
    }
    let variants: [(&str, ValueOf); 4] = [
        ("wrong types", |k| match k {
            "string" => json!(12345),
            _ => json!("x"),
        }),
        ("extreme values", |k| match k {
            "string" => json!("9".repeat(5000)),
            "integer" => json!(9_223_372_036_854_775_807i64),
            "number" => json!(1e308),
            "boolean" => json!(true),
            "array" => json!(vec!["x"; 500]),
            _ => json!({ "x": [] }),
        }),
        ("edge values", |k| match k {
            "string" => json!("-0.001"),
            "integer" | "number" => json!(-1),
            "boolean" => json!(false),
            "array" => json!([null]),
            _ => json!({}),
        }),
        ("empty values", |k| match k {
            "string" => json!(""),
            "integer" | "number" => json!(0),
            "boolean" => json!(false),
            "array" => json!([]),
            _ => json!({}),
        }),
    ];
    for (name, value) in variants {
        let body: Map<String, Value> = props
            .iter()
            .map(|(p, s)| (p.clone(), value(&kind(doc, s))))
            .collect();
        out.push((name.to_owned(), Value::Object(body).to_string()));
        // The money fields a client most often gets wrong, as text.
        if name == "edge values" {
            let body: Map<String, Value> =
                props.keys().map(|p| (p.clone(), json!("1e400"))).collect();
            out.push(("numbers as text".into(), Value::Object(body).to_string()));
        }
    }
    out
}

/// The names of an operation's parameters that go `into` the path or the query.
fn parameters(op: &Value, into: &str) -> Vec<String> {
    op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == into)
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

/// One request of the sweep; `body` is a named body for an operation that takes one.
struct Case {
    method: reqwest::Method,
    path: String,
    body: Option<(String, String)>,
}

/// The requests for every operation of one document: each path filled with real
/// values and with each kind of garbage, the query with garbage, and the bodies.
fn cases_of(doc: &Value, real: &Real) -> Vec<Case> {
    let mut out = Vec::new();
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    for (template, item) in &paths {
        // Logging in is swept by its own tests (its limit, its lockout).
        if template == "/auth/login" {
            continue;
        }
        for (method, op) in item.as_object().into_iter().flatten() {
            let method: reqwest::Method = method
                .to_uppercase()
                .parse()
                .unwrap_or_else(|e| panic!("{e}"));
            let (names, query) = (parameters(op, "path"), parameters(op, "query"));
            let fill = |garbage: Option<&str>| {
                names.iter().fold(template.clone(), |p, n| {
                    let v = garbage
                        .map(str::to_owned)
                        .unwrap_or_else(|| real.value(template, n));
                    p.replace(&format!("{{{n}}}"), &v)
                })
            };
            let mut filled = vec![fill(None)];
            if !names.is_empty() {
                filled.extend(PATH_GARBAGE.iter().map(|g| fill(Some(g))));
            }
            let mut queries = vec![String::new()];
            if !query.is_empty() {
                for g in ["x", "-99999999999999999999999", "2026-02-30", ""] {
                    let q: Vec<String> = query.iter().map(|n| format!("{n}={g}")).collect();
                    queries.push(format!("?{}", q.join("&")));
                }
            }
            for p in &filled {
                for q in &queries {
                    out.push(Case {
                        method: method.clone(),
                        path: format!("{p}{q}"),
                        body: None,
                    });
                }
            }
            if op["requestBody"].is_object() {
                for b in bodies(doc, op) {
                    out.push(Case {
                        method: method.clone(),
                        path: filled[0].clone(),
                        body: Some(b),
                    });
                }
            }
        }
    }
    out
}

/// Sends one case as this caller; the status and the start of the answer's body.
async fn send(
    http: &reqwest::Client,
    base: &str,
    case: &Case,
    bearer: Option<&str>,
) -> Result<(reqwest::StatusCode, String), reqwest::Error> {
    let mut rq = http
        .request(case.method.clone(), format!("{base}{}", case.path))
        .header("idempotency-key", Uuid::new_v4().to_string());
    if let Some(b) = bearer {
        rq = rq.bearer_auth(b);
    }
    if let Some((_, text)) = &case.body {
        rq = rq
            .header("content-type", "application/json")
            .body(text.clone());
    }
    let r = rq.send().await?;
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    Ok((status, text.chars().take(200).collect()))
}

/// POSTs `body` as JSON; the answer, which must be a success.
async fn post_ok(http: &reqwest::Client, url: String, body: Value) -> Value {
    let r = http
        .post(&url)
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.unwrap_or_else(|e| panic!("{e}"))
}

/// A demo login's access token.
async fn login(http: &reqwest::Client, base: &str, email: &str) -> String {
    use towncard::seed::{DEMO_PASSWORD, TOWN_SLUG};
    let body = json!({ "town": TOWN_SLUG, "email": email, "password": DEMO_PASSWORD });
    let v = post_ok(http, format!("{base}/auth/login"), body).await;
    v["access_token"].as_str().unwrap_or_default().to_owned()
}

/// The demo tablet, enrolled with the demo's code and unlocked with a staff PIN.
async fn tablet(http: &reqwest::Client, base: &str) -> String {
    use merchant_redemption::demo::{DEMO_ENROLMENT_CODE, DEMO_PIN};
    let devices = format!("{base}/redemption/v1/devices");
    let body = json!({ "town": towncard::seed::TOWN_SLUG, "code": DEMO_ENROLMENT_CODE });
    let enrolled = post_ok(http, format!("{devices}/enrol"), body).await;
    let body = json!({
        "credential": enrolled["credential"],
        "email": "staff@loggia.demo",
        "pin": DEMO_PIN,
    });
    let v = post_ok(http, format!("{devices}/unlock"), body).await;
    v["access_token"].as_str().unwrap_or_default().to_owned()
}

#[sqlx::test(migrations = "../../migrations")]
async fn no_documented_operation_answers_bad_input_with_a_server_error(admin: PgPool) {
    towncard::seed::seed_demo(&admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The sweep's requests count against per-address limits (tablet enrolment and
    // unlock) kept in the shared Redis: it comes through a trusted proxy as an
    // address of its own, so that the other tests' 127.0.0.1 keeps its allowance.
    let mut s = settings();
    s.server.trusted_proxies = "127.0.0.1".into();
    let ctx = context_with(&admin, s).await;
    let base = spawn(towncard::all_in_one::router(ctx)).await;
    let own = Uuid::new_v4().into_bytes();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        format!("198.18.{}.{}", own[0], own[1])
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .default_headers(headers)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));

    let mut who: Vec<(String, Option<String>)> = vec![("no one".into(), None)];
    for l in towncard::seed::LOGINS {
        who.push((l.email.to_owned(), Some(login(&http, &base, l.email).await)));
    }
    who.push(("the demo tablet".into(), Some(tablet(&http, &base).await)));
    let real = Real::load(&admin).await;

    let mut cases = Vec::new();
    for (_, doc) in documents(&http, &base).await {
        cases.extend(cases_of(&doc, &real));
    }
    let mut sent = 0usize;
    let mut failures = Vec::new();
    // How many answers of each status: the sweep must reach past the gates.
    let mut seen: std::collections::BTreeMap<u16, usize> = Default::default();
    for (role, bearer) in &who {
        for case in &cases {
            sent += 1;
            let what = format!(
                "{} {} as {role}{}",
                case.method,
                case.path,
                case.body
                    .as_ref()
                    .map(|(n, _)| format!(" with {n}"))
                    .unwrap_or_default()
            );
            match send(&http, &base, case, bearer.as_deref()).await {
                Ok((status, text)) => {
                    *seen.entry(status.as_u16()).or_default() += 1;
                    if status.is_server_error() {
                        failures.push(format!("{what}: {status} {text}"));
                    }
                }
                Err(e) => failures.push(format!("{what}: no answer ({e})")),
            }
        }
    }
    println!("{sent} requests; answers by status: {seen:?}");
    assert!(sent > 2_000, "only {sent} requests were sent");
    // Every gate answered, and some requests got through them all.
    for status in [200, 400, 401, 403, 404, 422] {
        assert!(seen.contains_key(&status), "no {status} among {seen:?}");
    }
    assert!(
        failures.is_empty(),
        "{} of {sent} requests got a server error:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
