//! `ferry keys create|list|show|update|revoke` (virtual keys, `/v1/keys`) and
//! `ferry spend` (the ledger, `/v1/spend`). A new key's secret is printed once, by
//! `create`; nothing else ever shows it.

use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::cli::{GlobalArgs, KeyLimitArgs, KeysCommand, SpendArgs};
use crate::client::{ApiClient, CliError};
use crate::render::{print_json, s};

/// `none` → JSON null (remove), else the parsed value.
fn nullable<T: std::str::FromStr + Into<Value>>(
    flag: &str,
    v: &str,
    what: &str,
) -> Result<Value, CliError> {
    if v.trim().eq_ignore_ascii_case("none") {
        return Ok(Value::Null);
    }
    v.trim()
        .parse::<T>()
        .map(Into::into)
        .map_err(|_| CliError::usage(format!("--{flag} {v}: expected {what}, or none")))
}

fn settings_body(l: &KeyLimitArgs, body: &mut Map<String, Value>) -> Result<(), CliError> {
    if let Some(b) = &l.budget {
        body.insert(
            "budget_usd".into(),
            nullable::<f64>("budget", b, "an amount in USD like 25 or 0.5")?,
        );
    }
    if let Some(p) = &l.period {
        body.insert("period".into(), json!(p));
    }
    if let Some(n) = &l.rpm {
        body.insert(
            "rpm".into(),
            nullable::<u32>("rpm", n, "a number of requests per minute")?,
        );
    }
    if let Some(n) = &l.tpm {
        body.insert(
            "tpm".into(),
            nullable::<u32>("tpm", n, "a number of tokens per minute")?,
        );
    }
    if !l.models.is_empty() {
        body.insert("models".into(), json!(l.models));
    }
    if !l.routes.is_empty() {
        body.insert("routes".into(), json!(l.routes));
    }
    if !l.scopes.is_empty() {
        body.insert("scopes".into(), json!(l.scopes));
    }
    if let Some(e) = &l.expires_in {
        let v = if e.trim().eq_ignore_ascii_case("none") {
            Value::Null
        } else {
            json!(e)
        };
        body.insert("expires_in".into(), v);
    }
    Ok(())
}

fn usd(v: &Value) -> String {
    v.as_f64()
        .map(|n| format!("${n:.4}"))
        .unwrap_or_else(|| "-".into())
}

fn key_line(k: &Value) -> String {
    let budget = match k.get("budget_usd").and_then(Value::as_f64) {
        Some(_) => format!(
            "{} of {} per {} ({} reserved)",
            usd(&k["spent_usd"]),
            usd(&k["budget_usd"]),
            s(k, "period"),
            usd(&k["reserved_usd"])
        ),
        None => format!(
            "{} spent this {}, no budget",
            usd(&k["spent_usd"]),
            s(k, "period")
        ),
    };
    let list = |f: &str| {
        k[f].as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "*".into())
    };
    let limit = |f: &str| k[f].as_u64().map_or("-".to_string(), |n| n.to_string());
    format!(
        "{}  {}  {}  scopes={} routes={} models={} rpm={} tpm={}  {}{}{}",
        s(k, "id"),
        s(k, "name"),
        s(k, "hint"),
        list("scopes"),
        list("routes"),
        list("models"),
        limit("rpm"),
        limit("tpm"),
        budget,
        k.get("expires_at")
            .and_then(Value::as_str)
            .map(|e| format!("  expires {e}"))
            .unwrap_or_default(),
        if k["revoked"].as_bool() == Some(true) {
            "  REVOKED"
        } else {
            ""
        }
    )
}

/// Runs a keys command.
pub async fn run(g: &GlobalArgs, cmd: &KeysCommand) -> Result<(), CliError> {
    let client = ApiClient::new(g)?;
    match cmd {
        KeysCommand::Create {
            name,
            limits,
            upstream_limit,
        } => {
            let mut body = Map::new();
            body.insert("name".into(), json!(name));
            settings_body(limits, &mut body)?;
            if let Some(l) = upstream_limit {
                body.insert("upstream_limit_usd".into(), json!(l));
            }
            let v = client
                .call_json(Method::POST, "/v1/keys", Some(&Value::Object(body)))
                .await?;
            if g.json {
                print_json(&v);
                return Ok(());
            }
            println!("{}", s(&v, "secret"));
            eprintln!("created {}", key_line(&v["key"]));
            eprintln!("the key above is shown this once: ferry stores only its hash");
            Ok(())
        }
        KeysCommand::List => {
            let v = client.get_json("/v1/keys").await?;
            if g.json {
                print_json(&v["keys"]);
                return Ok(());
            }
            let keys = v["keys"].as_array().cloned().unwrap_or_default();
            if keys.is_empty() {
                println!("no keys; issue one with `ferry keys create NAME`");
            }
            for k in &keys {
                println!("{}", key_line(k));
            }
            Ok(())
        }
        KeysCommand::Show { id } => show(g, client.get_json(&format!("/v1/keys/{id}")).await?),
        KeysCommand::Update { id, name, limits } => {
            let mut body = Map::new();
            if let Some(n) = name {
                body.insert("name".into(), json!(n));
            }
            settings_body(limits, &mut body)?;
            if body.is_empty() {
                return Err(CliError::usage(
                    "nothing to change: give --name, --budget, --period, --rpm, --tpm, --model, --route, --scope or --expires-in",
                ));
            }
            let v = client
                .call_json(
                    Method::PATCH,
                    &format!("/v1/keys/{id}"),
                    Some(&Value::Object(body)),
                )
                .await?;
            show(g, v)
        }
        KeysCommand::Revoke { id } => {
            let v = client
                .call_json(Method::DELETE, &format!("/v1/keys/{id}"), None)
                .await?;
            show(g, v)
        }
    }
}

fn show(g: &GlobalArgs, v: Value) -> Result<(), CliError> {
    if g.json {
        print_json(&v["key"]);
    } else {
        println!("{}", key_line(&v["key"]));
        if let Some(up) = v["key"].get("upstream").filter(|u| u.is_object()) {
            println!(
                "  OpenRouter key {} on route {} (limit {})",
                s(up, "hash"),
                s(up, "route"),
                usd(&up["limit_usd"])
            );
        }
    }
    Ok(())
}

/// `ferry spend`.
pub async fn spend(g: &GlobalArgs, args: &SpendArgs) -> Result<(), CliError> {
    let client = ApiClient::new(g)?;
    let mut path = format!("/v1/spend?by={}", enc(&args.by));
    for (k, v) in [
        ("split", &args.split),
        ("since", &args.since),
        ("until", &args.until),
    ] {
        if let Some(v) = v {
            path.push_str(&format!("&{k}={}", enc(v)));
        }
    }
    let v = client.get_json(&path).await?;
    if g.json {
        print_json(&v);
        return Ok(());
    }
    println!(
        "{:<28} {:>8} {:>12} {:>12} {:>10} {:>10}",
        match &args.split {
            Some(split) => format!("{} / {}", args.by, split).to_uppercase(),
            None => args.by.to_uppercase(),
        },
        "CALLS",
        "COST",
        "BILLED",
        "PROMPT",
        "COMPLETION"
    );
    for row in v["groups"].as_array().into_iter().flatten() {
        let est = row["estimated_calls"].as_u64().unwrap_or(0);
        println!(
            "{:<28} {:>8} {:>12} {:>12} {:>10} {:>10}{}",
            match row["split"].as_str() {
                Some(split) => format!("{} / {split}", s(row, "group")),
                None => s(row, "group").to_owned(),
            },
            row["calls"].as_u64().unwrap_or(0),
            usd(&row["cost_usd"]),
            usd(&row["billed_usd"]),
            row["prompt_tokens"].as_u64().unwrap_or(0),
            row["completion_tokens"].as_u64().unwrap_or(0),
            if est > 0 {
                format!("  ({est} charged at their reservation: no usage reported)")
            } else {
                String::new()
            }
        );
    }
    println!("total {}", usd(&v["total_usd"]));
    Ok(())
}

fn enc(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}
