//! TLS mode: a client trusting the generated CA reaches the fake under the real host name.

use serde_json::Value;

use ferry_fake_openrouter::{FakeOpenRouter, Reply};

use crate::support::*;

fn trusting_client(fake: &FakeOpenRouter) -> reqwest::Client {
    let pem = std::fs::read(fake.ca_pem_path().expect("CA path")).expect("CA file");
    reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("CA cert"))
        .resolve("openrouter.ai", fake.addr())
        .build()
        .expect("client")
}

#[tokio::test]
async fn https_with_the_generated_ca() {
    let fake = FakeOpenRouter::start_tls("openrouter.ai");
    assert_eq!(
        fake.base_url(),
        format!("https://openrouter.ai:{}/api/v1", fake.addr().port())
    );
    let client = trusting_client(&fake);

    let models = client
        .get(format!("{}/models", fake.base_url()))
        .send()
        .await
        .expect("response");
    assert_eq!(models.status(), 200);

    fake.push(Reply::text("over tls"));
    let response = client
        .post(format!("{}/chat/completions", fake.base_url()))
        .json(&chat_body(MODEL, true, "q"))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    let (chunks, frames) = read_stream(response).await;
    assert_eq!(joined(&chunks, "content"), "over tls");
    assert_eq!(frames.last().map(String::as_str), Some("data: [DONE]"));

    fake.push(Reply::text("plain json"));
    let body: Value = client
        .post(format!("{}/chat/completions", fake.base_url()))
        .json(&chat_body(MODEL, false, "q"))
        .send()
        .await
        .expect("response")
        .json()
        .await
        .expect("json");
    assert_eq!(body["choices"][0]["message"]["content"], "plain json");
    assert_eq!(fake.chat_requests().len(), 2);
}

#[tokio::test]
async fn https_is_refused_without_trusting_the_ca() {
    let fake = FakeOpenRouter::start_tls("openrouter.ai");
    let untrusting = reqwest::Client::builder()
        .no_proxy()
        .resolve("openrouter.ai", fake.addr())
        .build()
        .expect("client");
    let result = untrusting
        .get(format!("{}/models", fake.base_url()))
        .send()
        .await;
    assert!(
        result.is_err(),
        "a self-signed CA must not be trusted by default"
    );
}

#[test]
fn plain_mode_has_no_ca() {
    let fake = FakeOpenRouter::start();
    assert!(fake.ca_pem_path().is_none());
    assert_eq!(fake.base_url(), format!("http://{}/api/v1", fake.addr()));
}

#[tokio::test]
async fn truncated_over_tls_fails_the_body() {
    let fake = FakeOpenRouter::start_tls("openrouter.ai");
    fake.push(Reply::truncated(1));
    let response = trusting_client(&fake)
        .post(format!("{}/chat/completions", fake.base_url()))
        .json(&chat_body(MODEL, true, "q"))
        .send()
        .await
        .expect("response");
    let mut frames = Frames::new(response);
    let got = frames.rest().await;
    assert!(frames.error.is_some());
    assert!(got.iter().any(|f| f.contains("part 1 ")));
}
