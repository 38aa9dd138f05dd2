//! The bench's reference points (docs/benchmarks.md): a bare nginx reverse-proxy hop, and an
//! nginx upstream that answers every protocol's endpoint with a fixed body (`return 200
//! '…'`, keep-alive), so the gateway's own CPU per request can be compared with the hop's
//! in the same run on the same machine. Uses Debian's `nginx-light` when it is installed;
//! the bench says so and skips these rows when it is not.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running single-process nginx (`master_process off`), killed on drop.
pub struct Nginx {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _dir: tempfile::TempDir,
}

/// The fixed bodies the upstream nginx answers, by path under `/api/v1`.
const FIXED: &[(&str, &str)] = &[
    (
        "chat/completions",
        r#"{"id":"gen-1","object":"chat.completion","created":1,"model":"openai/gpt-5.4-mini","provider":"OpenAI","choices":[{"index":0,"finish_reason":"stop","native_finish_reason":"stop","message":{"role":"assistant","content":"echo: hello there, how are you today"}}],"usage":{"prompt_tokens":8,"completion_tokens":9,"total_tokens":17,"cost":0.0000066}}"#,
    ),
    (
        "responses",
        r#"{"id":"resp_1","object":"response","created_at":1,"model":"openai/gpt-5.4-mini","status":"completed","error":null,"output":[{"id":"msg_1","type":"message","role":"assistant","status":"completed","content":[{"type":"output_text","text":"echo: hello there, how are you today","annotations":[]}]}],"usage":{"input_tokens":8,"output_tokens":9,"total_tokens":17,"cost":0.0000066}}"#,
    ),
    (
        "messages",
        r#"{"id":"msg_1","type":"message","role":"assistant","model":"anthropic/claude-sonnet-4-5","content":[{"type":"text","text":"echo: hello there, how are you today"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":8,"output_tokens":9,"cost":0.0000066}}"#,
    ),
    (
        "embeddings",
        r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8]}],"model":"openai/text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8,"cost":0.00000016}}"#,
    ),
];

/// The nginx binary, when installed.
pub fn find() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn config(dir: &Path, port: u16, server_body: &str, upstream_block: &str) -> String {
    let d = dir.display();
    format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\nerror_log {d}/error.log warn;\npid {d}/nginx.pid;\n\
         events {{ worker_connections 8192; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           keepalive_requests 1000000;\n  keepalive_timeout 60s;\n  {upstream_block}\n\
           server {{\n    listen 127.0.0.1:{port};\n{server_body}\n  }}\n}}\n"
    )
}

impl Nginx {
    /// The upstream: every protocol path of `/api/v1` answers its fixed body.
    pub async fn fixed_upstream(bin: &Path, pin: Option<usize>) -> Result<Nginx, String> {
        let mut body = String::from("    default_type application/json;\n");
        for (path, reply) in FIXED {
            body.push_str(&format!(
                "    location = /api/v1/{path} {{ return 200 '{reply}'; }}\n"
            ));
        }
        body.push_str("    location = /healthz { return 200 'ok'; }\n");
        Nginx::start(bin, pin, &body, "").await
    }

    /// A bare reverse-proxy hop in front of `upstream` (keep-alive both ways). Request
    /// bodies up to 1 MiB are buffered in memory (nginx's default of 16 KB would write an
    /// agent's request to a temporary file first).
    pub async fn proxy_hop(
        bin: &Path,
        upstream: &str,
        pin: Option<usize>,
    ) -> Result<Nginx, String> {
        let target = upstream.trim_start_matches("http://");
        let block = format!(
            "upstream backend {{ server {target}; keepalive 256; }}\n  client_body_buffer_size 1m;"
        );
        let body = "    location = /healthz { return 200 'ok'; }\n    location / {\n      proxy_pass http://backend;\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n    }\n";
        Nginx::start(bin, pin, body, &block).await
    }

    async fn start(
        bin: &Path,
        pin: Option<usize>,
        server_body: &str,
        upstream_block: &str,
    ) -> Result<Nginx, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = free_port()?;
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config(dir.path(), port, server_body, upstream_block))
            .map_err(|e| e.to_string())?;
        let mut cmd = match pin {
            Some(core) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(core.to_string()).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        loop {
            if let Ok(r) = client.get(format!("{url}/healthz")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            if started.elapsed() > Duration::from_secs(10) {
                return Err(format!(
                    "nginx did not answer within 10 s (see {})",
                    dir.path().join("error.log").display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Nginx {
            child,
            url,
            _dir: dir,
        })
    }

    /// The process id (the only process: `master_process off`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
