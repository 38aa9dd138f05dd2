//! `ferry keys create|list|show|update|revoke` (virtual keys, `/v1/keys`) and
//! `ferry spend` (the ledger, `/v1/spend`). A new key's secret is printed once, by
//! `create`; nothing else ever shows it.

use ferry_engine::{KeyAnswer, KeyCreated, KeyList, KeyView};
use ferry_types::SpendReport;
use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::answer::typed;
use crate::cli::{GlobalArgs, KeyLimitArgs, KeysCommand, SpendArgs};
use crate::client::{ApiClient, CliError};
use crate::render::{print_json, usd};

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

/// `--budget`: `none` → JSON null (remove), else a finite amount in USD, 0 or more.
/// `nan` and `inf` parse as `f64` but serialise as JSON null, which would remove the
/// budget instead of refusing the flag; a negative amount is no budget either.
fn budget(v: &str) -> Result<Value, CliError> {
    if v.trim().eq_ignore_ascii_case("none") {
        return Ok(Value::Null);
    }
    match v.trim().parse::<f64>() {
        Ok(usd) if usd.is_finite() && usd >= 0.0 => Ok(json!(usd)),
        _ => Err(CliError::usage(format!(
            "--budget {v}: expected a finite amount in USD, 0 or more, like 25 or 0.5, or none"
        ))),
    }
}

fn settings_body(l: &KeyLimitArgs, body: &mut Map<String, Value>) -> Result<(), CliError> {
    if let Some(b) = &l.budget {
        body.insert("budget_usd".into(), budget(b)?);
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

/// The items joined with commas, `*` (any) when there are none.
fn any_of<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let joined = items.collect::<Vec<_>>().join(",");
    if joined.is_empty() {
        "*".into()
    } else {
        joined
    }
}

fn key_line(k: &KeyView) -> String {
    let period = k.period.as_str();
    let budget = match k.budget_usd {
        Some(budget) => format!(
            "{} of {} per {period} ({} reserved)",
            usd(k.spent_usd),
            usd(budget),
            usd(k.reserved_usd)
        ),
        None => format!("{} spent this {period}, no budget", usd(k.spent_usd)),
    };
    let limit = |n: Option<u32>| n.map_or("-".to_string(), |n| n.to_string());
    format!(
        "{}  {}  {}  scopes={} routes={} models={} rpm={} tpm={}  {}{}{}",
        k.id,
        k.name,
        k.hint,
        any_of(k.scopes.iter().map(|s| s.as_str())),
        any_of(k.routes.iter().map(String::as_str)),
        any_of(k.models.iter().map(String::as_str)),
        limit(k.rpm),
        limit(k.tpm),
        budget,
        k.expires_at
            .as_deref()
            .map(|e| format!("  expires {e}"))
            .unwrap_or_default(),
        if k.revoked { "  REVOKED" } else { "" }
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
            let created: KeyCreated = typed("keys create", &v)?;
            if g.json {
                print_json(&json!(created));
                return Ok(());
            }
            println!("{}", created.secret);
            eprintln!("created {}", key_line(&created.key));
            eprintln!("the key above is shown this once: ferry stores only its hash");
            Ok(())
        }
        KeysCommand::List => {
            let KeyList { keys } = typed("keys list", &client.get_json("/v1/keys").await?)?;
            if g.json {
                print_json(&json!(keys));
                return Ok(());
            }
            if keys.is_empty() {
                println!("no keys; issue one with `ferry keys create NAME`");
            }
            for k in &keys {
                println!("{}", key_line(k));
            }
            Ok(())
        }
        KeysCommand::Show { id } => show(
            g,
            "keys show",
            client.get_json(&format!("/v1/keys/{id}")).await?,
        ),
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
            show(g, "keys update", v)
        }
        KeysCommand::Revoke { id } => {
            let v = client
                .call_json(Method::DELETE, &format!("/v1/keys/{id}"), None)
                .await?;
            show(g, "keys revoke", v)
        }
    }
}

fn show(g: &GlobalArgs, command: &str, v: Value) -> Result<(), CliError> {
    let KeyAnswer { key } = typed(command, &v)?;
    if g.json {
        print_json(&json!(key));
    } else {
        println!("{}", key_line(&key));
        if let Some(up) = &key.upstream {
            println!(
                "  OpenRouter key {} on route {} (limit {})",
                up.hash,
                up.route,
                usd(up.limit_usd)
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
    let report: SpendReport = typed("keys spend", &v)?;
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
    for row in &report.groups {
        let est = row.estimated_calls;
        println!(
            "{:<28} {:>8} {:>12} {:>12} {:>10} {:>10}{}",
            match &row.split {
                Some(split) => format!("{} / {split}", row.group),
                None => row.group.clone(),
            },
            row.calls,
            usd(row.cost_usd),
            row.billed_usd.map(usd).unwrap_or_else(|| "-".into()),
            row.prompt_tokens,
            row.completion_tokens,
            if est > 0 {
                format!("  ({est} charged at their reservation: no usage reported)")
            } else {
                String::new()
            }
        );
    }
    println!("total {}", usd(report.total_usd));
    Ok(())
}

fn enc(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire_key() -> Value {
        json!({
            "id": "key_1", "name": "bob", "hint": "fk-…abcd", "scopes": ["facade", "sessions"],
            "routes": [], "models": ["openai/*"], "budget_usd": 5.0, "period": "week",
            "spent_usd": 1.25, "reserved_usd": 0.5, "remaining_usd": 3.25, "resets_at": null,
            "rpm": 60, "tpm": null, "expires_at": null, "revoked": true,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        })
    }

    #[test]
    fn a_key_reads_typed_and_prints_its_line() {
        let KeyAnswer { key } = typed("keys show", &json!({"key": wire_key()})).unwrap();
        assert_eq!(
            key_line(&key),
            "key_1  bob  fk-…abcd  scopes=facade,sessions routes=* models=openai/* rpm=60 tpm=-  $1.2500 of $5.0000 per week ($0.5000 reserved)  REVOKED"
        );
        assert!(key.upstream.is_none());
        assert_eq!(
            json!(key),
            wire_key(),
            "re-serialised as the daemon sent it"
        );
    }

    #[test]
    fn a_budget_is_a_finite_amount_of_zero_or_more_or_none() {
        assert_eq!(budget("25").unwrap(), json!(25.0));
        assert_eq!(budget(" 0.5 ").unwrap(), json!(0.5));
        assert_eq!(budget("0").unwrap(), json!(0.0));
        assert_eq!(budget("None").unwrap(), Value::Null);
        for bad in [
            "NaN", "nan", "inf", "-inf", "infinity", "-1", "-0.01", "25usd", "",
        ] {
            let err = budget(bad).unwrap_err();
            assert_eq!(err.exit, 2, "{bad}: a usage error");
            assert!(
                err.message.contains("a finite amount in USD, 0 or more"),
                "{bad}: {}",
                err.message
            );
        }
    }

    #[test]
    fn a_key_without_its_spend_is_an_error_naming_the_field() {
        let mut k = wire_key();
        k.as_object_mut().unwrap().remove("spent_usd");
        let err = typed::<KeyAnswer>("keys show", &json!({"key": k})).unwrap_err();
        assert!(err.message.contains("`ferry keys show`"), "{}", err.message);
        assert!(err.message.contains("`spent_usd`"), "{}", err.message);
    }
}
