//! Renders N merchant statements shaped like the settlement benchmark's (31 daily
//! lines each) and prints the time per statement:
//! `cargo run --release -p report-pdf --example statements -- 200 [threads]`
//! (`SAVE=/tmp/s.pdf` keeps the first one).

use std::time::Instant;

use report_pdf::{Template, render};
use serde_json::{Value, json};

fn statement(i: usize) -> Value {
    let lines: Vec<Value> = (1..=31)
        .map(|d| {
            json!({"date": format!("{d:02}.03.2026"), "receipt": format!("{}", 50 + (i + d) % 30),
                   "promotion": if d % 7 == 0 { "Storni −1".to_owned() } else { String::new() },
                   "basket": format!("{}.{:03},{:02}", 1 + d % 9, (i * 37 + d * 11) % 1000, d),
                   "discount": format!("{},{:02}", 100 + i % 300, d), "municipality": format!("{},{:02}", 50 + i % 150, d),
                   "merchant_share": format!("{},{:02}", 50 + i % 150, 31 - d), "adjustment": d == 31})
        })
        .collect();
    json!({
        "lang": "sl", "title": "Izpisek trgovca", "town": "Bench bench", "period": "2026-03",
        "status": "zaprto", "digest": "3f1a0c7e9d2b4a6f8e0c1d3b5a7f9e2c4b6d8f0a1c3e5b7d9f1a3c5e7b9d0f2a",
        "labels": {"merchant": "Trgovec", "promotion": "Promocija", "count": "Unovčenja",
                   "basket": "Košarica", "discount": "Popust", "municipality": "Delež občine",
                   "merchant_share": "Delež trgovca", "points": "Točke", "adjustments": "Popravki",
                   "budget_used": "Porabljeno", "budget_left": "Ostanek", "total": "Skupaj",
                   "chart": "Poraba", "day": "dan"},
        "totals": {"count": 2000 + i, "basket": "61.234,50", "discount": "6.123,45", "municipality": "3.061,72",
                   "merchant_share": "3.061,73", "points": 12 * i, "adjustments": "0,00"},
        "merchant": {"name": format!("Trgovina {:03}", i + 1), "iban": "SI56020100012345678"},
        "lines": lines,
    })
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let threads: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let save = std::env::var("SAVE").ok();
    let t0 = Instant::now();
    if threads > 1 {
        std::thread::scope(|s| {
            for t in 0..threads {
                s.spawn(move || {
                    for i in (t..n).step_by(threads) {
                        if let Err(e) = render(Template::MerchantStatement, &statement(i)) {
                            eprintln!("{e}");
                        }
                    }
                });
            }
        });
        let s = t0.elapsed().as_secs_f64();
        println!(
            "{n} statements on {threads} threads, {:.1} ms wall each",
            s * 1e3 / n as f64
        );
        return;
    }
    let mut bytes = 0;
    for i in 0..n {
        let pdf = match render(Template::MerchantStatement, &statement(i)) {
            Ok(pdf) => pdf,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        };
        bytes += pdf.len();
        if i == 0 {
            if let Some(path) = &save {
                let _ = std::fs::write(path, &pdf);
            }
            println!(
                "first statement {:.1} ms (fonts, library)",
                t0.elapsed().as_secs_f64() * 1e3
            );
        }
    }
    let s = t0.elapsed().as_secs_f64();
    println!(
        "{n} statements, {bytes} B, {:.1} ms each",
        s * 1e3 / n as f64
    );
}
