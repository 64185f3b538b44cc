//! Webhook functions: the event is POSTed to a loopback URL; the response body is the payload and a
//! non-2xx status is a function error.

use std::io::Read as _;
use std::time::Duration;

use super::function::{FunctionConfig, validate_webhook_url};
use super::host::{Invocation, LambdaError};
use super::runtime_api::MAX_PAYLOAD_BYTES;

pub(crate) async fn invoke(
    config: &FunctionConfig,
    arn: &str,
    request_id: String,
    event: Vec<u8>,
) -> Result<Invocation, LambdaError> {
    let url = config.url.clone().unwrap_or_default();
    // Checked again: the stored file may have been edited by hand.
    validate_webhook_url(&url)?;
    let timeout = config.timeout();
    let (arn, id) = (arn.to_owned(), request_id.clone());
    let call = tokio::task::spawn_blocking({
        let url = url.clone();
        move || post(&url, &arn, &id, &event, timeout)
    });
    // spawn_blocking cannot be cancelled: the agent's global timeout bounds it; this bounds the wait.
    let outcome = tokio::time::timeout(timeout + Duration::from_secs(1), call).await;
    let webhook_error = |reason: String| LambdaError::Webhook {
        url: url.clone(),
        reason,
    };
    let (status, payload) = match outcome {
        Err(_) => {
            return Err(LambdaError::Timeout {
                request_id,
                timeout,
                logs: String::new(),
            });
        }
        Ok(Err(join)) => return Err(webhook_error(join.to_string())),
        Ok(Ok(Err(PostError::Timeout))) => {
            return Err(LambdaError::Timeout {
                request_id,
                timeout,
                logs: String::new(),
            });
        }
        Ok(Ok(Err(PostError::Other(reason)))) => return Err(webhook_error(reason)),
        Ok(Ok(Ok(answer))) => answer,
    };
    let function_error = if (200..300).contains(&status) {
        None
    } else {
        Some(
            serde_json::from_slice::<serde_json::Value>(&payload)
                .ok()
                .and_then(|v| v.get("errorType")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| "Unhandled".to_owned()),
        )
    };
    Ok(Invocation {
        request_id,
        payload,
        function_error,
        logs: format!("webhook {url}: HTTP {status}\n"),
    })
}

enum PostError {
    Timeout,
    Other(String),
}

fn post(
    url: &str,
    arn: &str,
    request_id: &str,
    event: &[u8],
    timeout: Duration,
) -> Result<(u16, Vec<u8>), PostError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let response = agent
        .post(url)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", request_id)
        .header("lambda-runtime-invoked-function-arn", arn)
        .send(event);
    let mut response = match response {
        Ok(r) => r,
        Err(ureq::Error::Timeout(_)) => return Err(PostError::Timeout),
        Err(e) => return Err(PostError::Other(e.to_string())),
    };
    let status = response.status().as_u16();
    let mut body = Vec::new();
    let limit = MAX_PAYLOAD_BYTES as u64 + 1;
    response
        .body_mut()
        .as_reader()
        .take(limit)
        .read_to_end(&mut body)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut {
                PostError::Timeout
            } else {
                PostError::Other(e.to_string())
            }
        })?;
    if body.len() > MAX_PAYLOAD_BYTES {
        return Ok((
            502,
            serde_json::json!({
                "errorType": "Function.ResponseSizeTooLarge",
                "errorMessage": format!("Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes)."),
            })
            .to_string()
            .into_bytes(),
        ));
    }
    Ok((status, body))
}
