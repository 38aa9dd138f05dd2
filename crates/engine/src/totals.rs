//! Totals of a run: usage objects and costs summed across its model and tool calls.

use std::sync::Arc;

use ferry_types::UsageObject;
use serde_json::{json, Value};

/// Adds the numbers of `next` into `acc` (objects recursively; other values: the latest).
/// The first usage is taken as it is (shared, not copied); a second one is summed as
/// trees into a new object (a run of one model call, the usual run, builds no tree).
pub(crate) fn add_usage(acc: &mut Option<Arc<UsageObject>>, next: Option<Arc<UsageObject>>) {
    fn merge(a: &mut Value, b: &Value) {
        match (a, b) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in b {
                    match a.get_mut(k) {
                        Some(existing) => merge(existing, v),
                        None => {
                            a.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            (a @ Value::Number(_), Value::Number(b)) => {
                let sum = match (a.as_u64(), b.as_u64()) {
                    (Some(x), Some(y)) => json!(x + y),
                    _ => json!(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0)),
                };
                *a = sum;
            }
            (a, b) => *a = b.clone(),
        }
    }
    if let Some(next) = next {
        match acc {
            Some(a) => {
                let mut sum = a.to_value();
                merge(&mut sum, &next.to_value());
                // A sum of two objects is an object.
                if let Some(sum) = UsageObject::from_value(&sum) {
                    *a = Arc::new(sum);
                }
            }
            None => *acc = Some(next),
        }
    }
}

pub(crate) fn add_cost(acc: &mut Option<f64>, cost: Option<f64>) {
    if let Some(c) = cost {
        *acc = Some(acc.unwrap_or(0.0) + c);
    }
}
