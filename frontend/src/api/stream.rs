//! Streamed response bodies through fetch and a ReadableStream reader (gloo-net reads bodies whole): build
//! output, followed logs and stats arrive for as long as they last. Dropping the [`BodyStream`] aborts the request,
//! so a component that goes away stops its stream.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, ReadableStreamDefaultReader, RequestInit, Response};

use berth_shared::api::CLIENT_HEADER;

use super::{error_message, DaemonError, CLIENT_NAME};

pub struct BodyStream {
    reader: ReadableStreamDefaultReader,
    abort: AbortController,
}

impl Drop for BodyStream {
    fn drop(&mut self) {
        self.abort.abort();
    }
}

fn browser_error(context: &str, error: JsValue) -> DaemonError {
    let detail = error
        .as_string()
        .or_else(|| Reflect::get(&error, &JsValue::from_str("message")).ok().and_then(|message| message.as_string()));
    DaemonError::Browser(format!("{context}: {}", detail.unwrap_or_else(|| format!("{error:?}"))))
}

/// Sends the request and returns the body as a stream once the status is 2xx; an error status reads the whole
/// body for its `{"message"}`.
pub async fn open(method: &str, url: &str, body: Option<(&[u8], &str)>) -> Result<BodyStream, DaemonError> {
    let window = web_sys::window().ok_or_else(|| DaemonError::Browser("no window".into()))?;
    let abort = AbortController::new().map_err(|error| browser_error("AbortController", error))?;
    let init = RequestInit::new();
    init.set_method(method);
    init.set_signal(Some(&abort.signal()));
    let headers = web_sys::Headers::new().map_err(|error| browser_error("Headers", error))?;
    headers.set(CLIENT_HEADER, CLIENT_NAME).map_err(|error| browser_error("Headers", error))?;
    if let Some((bytes, content_type)) = body {
        init.set_body(&Uint8Array::from(bytes).into());
        headers.set("Content-Type", content_type).map_err(|error| browser_error("Headers", error))?;
    }
    init.set_headers(&headers.into());
    let response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|error| DaemonError::Unreachable(browser_error("fetch", error).to_string()))?;
    let response: Response = response.dyn_into().map_err(|error| browser_error("fetch answer", error))?;
    if !response.ok() {
        let text = match response.text() {
            Ok(promise) => JsFuture::from(promise).await.ok().and_then(|text| text.as_string()).unwrap_or_default(),
            Err(_) => String::new(),
        };
        return Err(error_message(response.status(), &response.status_text(), &text));
    }
    let stream = response.body().ok_or_else(|| DaemonError::Decode("the answer has no body".into()))?;
    let reader: ReadableStreamDefaultReader =
        stream.get_reader().dyn_into().map_err(|error| browser_error("body reader", error.into()))?;
    Ok(BodyStream { reader, abort })
}

impl BodyStream {
    /// The next chunk, or None at the end of the body.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, DaemonError> {
        let result = JsFuture::from(self.reader.read())
            .await
            .map_err(|error| DaemonError::Unreachable(browser_error("reading the answer", error).to_string()))?;
        let done = Reflect::get(&result, &JsValue::from_str("done")).ok().and_then(|done| done.as_bool());
        if done.unwrap_or(true) {
            return Ok(None);
        }
        let value = Reflect::get(&result, &JsValue::from_str("value"))
            .map_err(|error| browser_error("reading the answer", error))?;
        let bytes: Uint8Array = value.dyn_into().map_err(|error| browser_error("answer chunk", error))?;
        Ok(Some(bytes.to_vec()))
    }
}
