//! Reading an upload body (`POST /v1/assets`, `POST /v1/observations`): either the raw
//! bytes with their `Content-Type`, or `multipart/form-data` with a part named `file`.
//! The size limit is enforced before the body is read (`Content-Length`) and while it
//! streams in, so an oversize upload is refused with 413 without ever being held whole.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use bytes::Bytes;
use ferry_assets::{AssetError, Collector, Declared};
use ferry_types::ProblemCode;
use futures::StreamExt;

use crate::problem::Problem;

/// Room for multipart framing (boundaries, part headers) on top of the file limit.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// An upload: its bytes and what the client declared about them.
pub(crate) struct Upload {
    pub(crate) bytes: Bytes,
    pub(crate) declared: Declared,
}

fn asset_problem(e: AssetError) -> Problem {
    Problem::from(ferry_engine::EngineError::Asset(e))
}

fn header_str(req: &Request, name: axum::http::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Reads the upload in `req` with at most `limit` bytes of content; `file_name` comes
/// from the query when the body is raw.
pub(crate) async fn read_upload(
    req: Request,
    limit: u64,
    file_name: Option<String>,
) -> Result<Upload, Problem> {
    let content_type = header_str(&req, CONTENT_TYPE).map(str::to_owned);
    let length = header_str(&req, CONTENT_LENGTH).and_then(|v| v.trim().parse::<u64>().ok());
    let is_multipart = content_type.as_deref().is_some_and(|ct| {
        ct.trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/form-data")
    });
    if is_multipart {
        if length.is_some_and(|n| n > limit + MULTIPART_OVERHEAD) {
            return Err(asset_problem(AssetError::TooLarge { limit }));
        }
        return read_multipart(req, limit, file_name).await;
    }
    let mut collector = Collector::new(limit, length).map_err(asset_problem)?;
    let mut stream = req.into_body().into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            Problem::unreadable_body(
                400,
                ProblemCode::InvalidBody,
                format!("the upload body could not be read: {e}"),
            )
        })?;
        collector.push(&chunk).map_err(asset_problem)?;
    }
    Ok(Upload {
        bytes: collector.finish(),
        declared: Declared {
            media_type: content_type,
            file_name,
        },
    })
}

async fn read_multipart(
    req: Request,
    limit: u64,
    file_name: Option<String>,
) -> Result<Upload, Problem> {
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|e| bad(format!("the multipart body is invalid: {}", e.body_text())))?;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| bad(format!("the multipart body is invalid: {}", e.body_text())))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let mut upload = read_part(field, limit).await?;
        upload.declared.file_name = upload.declared.file_name.or(file_name);
        return Ok(upload);
    }
    Err(bad(
        "the multipart body has no part named \"file\"; send the file as `-F file=@PATH`".into(),
    ))
}

/// One file part of a multipart body, at most `limit` bytes, with the type and file name
/// it declares.
async fn read_part(
    mut field: axum::extract::multipart::Field<'_>,
    limit: u64,
) -> Result<Upload, Problem> {
    let declared = Declared {
        media_type: field.content_type().map(str::to_owned),
        file_name: field.file_name().map(str::to_owned),
    };
    let mut collector = Collector::new(limit, None).map_err(asset_problem)?;
    while let Some(chunk) = field.chunk().await.map_err(|e| {
        Problem::new(
            400,
            ProblemCode::InvalidMultipart,
            format!("the multipart body is invalid: {}", e.body_text()),
        )
    })? {
        collector.push(&chunk).map_err(asset_problem)?;
    }
    Ok(Upload {
        bytes: collector.finish(),
        declared,
    })
}

/// A `multipart/form-data` body of the facade's media endpoints: its text fields and its
/// files (each at most the asset size limit), in order.
pub(crate) struct Form {
    pub(crate) fields: Vec<(String, String)>,
    pub(crate) files: Vec<(String, Upload)>,
}

impl Form {
    /// The first text field called `name`.
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Largest text field of a form.
const MAX_FORM_FIELD: usize = 64 * 1024;

/// Reads a whole `multipart/form-data` body: files up to `limit` bytes each.
pub(crate) async fn read_form(req: Request, limit: u64) -> Result<Form, Problem> {
    let mut multipart = Multipart::from_request(req, &()).await.map_err(|e| {
        bad(format!(
            "send multipart/form-data (as the OpenAI SDKs do): {}",
            e.body_text()
        ))
    })?;
    let mut form = Form {
        fields: Vec::new(),
        files: Vec::new(),
    };
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| bad(format!("the multipart body is invalid: {}", e.body_text())))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if field.file_name().is_none() && field.content_type().is_none() {
            let text = field
                .text()
                .await
                .map_err(|e| bad(format!("field {name} is invalid: {}", e.body_text())))?;
            if text.len() > MAX_FORM_FIELD {
                return Err(bad(format!(
                    "field {name} is longer than {MAX_FORM_FIELD} bytes"
                )));
            }
            form.fields.push((name, text));
            continue;
        }
        form.files.push((name, read_part(field, limit).await?));
    }
    Ok(form)
}

/// A multipart body that could not be read or parsed (`detail` says why); a 408 when it
/// stopped arriving.
fn bad(detail: String) -> Problem {
    Problem::unreadable_body(400, ProblemCode::InvalidMultipart, detail)
}
