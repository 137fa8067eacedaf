//! Files over HTTP, for the widget and the console alike: an upload to `POST /v1/files` with
//! progress, and a download of `GET /v1/files/{hash}` into an object URL. Both carry the caller's
//! bearer token (a visitor's or an operator's), so neither a cookie nor a guessable URL ever
//! opens a file; the deployment checks the token against the conversations that carry it.
//!
//! `XMLHttpRequest` is used rather than `fetch` because only it reports upload progress.

mod view;
pub use view::{AttachmentView, Source, UploadList};

use protocol::conversation::Attachment;
use protocol::ApiError;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{XmlHttpRequest, XmlHttpRequestResponseType};

/// How an upload ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Uploaded {
    /// Stored durably by the deployment: the reference to send with the message.
    Stored(Attachment),
    /// Refused for a reason another attempt would not change (too large, a forbidden type, too
    /// many uploads): the deployment's words, for the person who picked the file.
    Refused(String),
    /// The deployment did not answer, or failed: another attempt (at whichever deployment is
    /// active by then) may succeed.
    Failed,
}

/// Uploads `file` to the deployment at `base`. `progress` receives the share sent so far (0 to
/// 100) while the bytes go out; `done` runs exactly once.
pub fn upload(
    base: &str,
    token: &str,
    file: &web_sys::File,
    progress: impl Fn(u32) + 'static,
    done: impl FnOnce(Uploaded) + 'static,
) {
    let Some(request) = open(
        "POST",
        &format!("{}/v1/files", base.trim_end_matches('/')),
        token,
    ) else {
        done(Uploaded::Failed);
        return;
    };
    let name: String = js_sys::encode_uri_component(&file.name()).into();
    let content_type = file.type_();
    let headers_set = request.set_request_header("X-File-Name", &name).is_ok()
        && request
            .set_request_header("Content-Type", &content_type)
            .is_ok();
    if !headers_set {
        done(Uploaded::Failed);
        return;
    }
    // Long enough for a large file on a slow line; a dead deployment ends the socket sooner.
    request.set_timeout(120_000);
    let on_progress =
        Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |event: web_sys::ProgressEvent| {
            if event.length_computable() && event.total() > 0.0 {
                progress((event.loaded() / event.total() * 100.0).round() as u32);
            }
        });
    let upload = request.upload().ok();
    if let Some(upload) = &upload {
        upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    }
    let handle = request.clone();
    let on_end = crate::once_js(Box::new(move || {
        // No progress follows the end: the handler is detached, then freed with this closure.
        if let Some(upload) = upload {
            upload.set_onprogress(None);
        }
        drop(on_progress);
        let status = handle.status().unwrap_or(0);
        let body = handle.response_text().ok().flatten().unwrap_or_default();
        done(match status {
            201 => crate::from_json(&body).map_or(Uploaded::Failed, Uploaded::Stored),
            400..=499 => Uploaded::Refused(reason(&body)),
            _ => Uploaded::Failed,
        });
    }));
    request.set_onloadend(Some(on_end.unchecked_ref()));
    if request.send_with_opt_blob(Some(file)).is_err() {
        request.set_onloadend(None);
    }
}

/// An upload under way, as an app shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uploading {
    /// Tells uploads apart.
    pub key: u64,
    /// The file's name.
    pub name: String,
    /// How much has gone out, 0 to 100.
    pub progress: u32,
    /// The conversation it is for, where the app shows several (the console).
    pub conversation: Option<protocol::ConversationId>,
}

/// Adds an upload to `uploads` and returns what moves its progress bar.
pub fn track(
    uploads: leptos::prelude::RwSignal<Vec<Uploading>>,
    shown: Uploading,
) -> impl Fn(u32) + Clone + 'static {
    use leptos::prelude::Update;
    let key = shown.key;
    uploads.update(|u| u.push(shown));
    move |percent| {
        uploads.update(|u| {
            if let Some(shown) = u.iter_mut().find(|x| x.key == key) {
                shown.progress = percent;
            }
        })
    }
}

/// Takes the upload `key` off the screen.
pub fn untrack(uploads: leptos::prelude::RwSignal<Vec<Uploading>>, key: u64) {
    use leptos::prelude::Update;
    uploads.update(|u| u.retain(|x| x.key != key));
}

/// How many times [`send`] tries, a second apart, before it gives up: a failover takes far less.
const ATTEMPTS: u32 = 60;

/// Uploads `file` to the deployment `target` names when asked (the one connected to now). When
/// there is no connection, or the upload fails, it tries again a second later, at whichever
/// deployment is connected by then: a failover in the middle of an upload only delays it, and
/// the file, stored by its hash, is stored once however often it goes. `done` receives the
/// reference to send, or the reason for the person who picked the file.
pub fn send(
    file: web_sys::File,
    target: Source,
    progress: impl Fn(u32) + Clone + 'static,
    done: impl FnOnce(Result<Attachment, String>) + 'static,
) {
    send_attempt(file, target, progress, done, ATTEMPTS);
}

fn send_attempt(
    file: web_sys::File,
    target: Source,
    progress: impl Fn(u32) + Clone + 'static,
    done: impl FnOnce(Result<Attachment, String>) + 'static,
    attempts: u32,
) {
    let again = move |file, target, progress, done: Box<dyn FnOnce(Result<Attachment, String>)>| {
        if attempts <= 1 {
            done(Err("it could not reach us; please try again".into()));
            return;
        }
        crate::set_timeout(1_000, move || {
            send_attempt(file, target, progress, done, attempts - 1)
        });
    };
    let done: Box<dyn FnOnce(Result<Attachment, String>)> = Box::new(done);
    let Some((base, token)) = target() else {
        again(file, target, progress, done);
        return;
    };
    let sent = file.clone();
    upload(
        &base,
        &token,
        &sent,
        progress.clone(),
        move |outcome| match outcome {
            Uploaded::Stored(attachment) => done(Ok(attachment)),
            Uploaded::Refused(why) => done(Err(why)),
            Uploaded::Failed => again(file, target, progress, done),
        },
    );
}

/// Downloads the file `hash` from the deployment at `base` into an object URL (an image's
/// `src`, a link's `href`); `done` receives `None` when the deployment did not hand it over.
/// The caller revokes the URL ([`release`]) when it no longer shows it.
pub fn download(base: &str, token: &str, hash: &str, done: impl FnOnce(Option<String>) + 'static) {
    let url = format!("{}/v1/files/{hash}", base.trim_end_matches('/'));
    let Some(request) = open("GET", &url, token) else {
        done(None);
        return;
    };
    request.set_response_type(XmlHttpRequestResponseType::Blob);
    request.set_timeout(120_000);
    let handle = request.clone();
    let on_end = crate::once_js(Box::new(move || {
        let blob = (handle.status().unwrap_or(0) == 200)
            .then(|| handle.response().ok())
            .flatten()
            .and_then(|r| r.dyn_into::<web_sys::Blob>().ok());
        done(blob.and_then(|b| web_sys::Url::create_object_url_with_blob(&b).ok()));
    }));
    request.set_onloadend(Some(on_end.unchecked_ref()));
    if request.send().is_err() {
        request.set_onloadend(None);
    }
}

/// Frees an object URL made by [`download`].
pub fn release(url: &str) {
    let _ = web_sys::Url::revoke_object_url(url);
}

/// Offers the object URL `url` as a download named `name`, as a click on a link would.
pub fn save(url: &str, name: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Ok(link) = document.create_element("a") else {
        return;
    };
    let _ = link.set_attribute("href", url);
    let _ = link.set_attribute("download", name);
    if let Ok(link) = link.dyn_into::<web_sys::HtmlElement>() {
        link.click();
    }
}

/// The files of a file list (an input's choice, a drop, a paste).
pub fn files_of(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    let Some(list) = list else {
        return Vec::new();
    };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

fn open(method: &str, url: &str, token: &str) -> Option<XmlHttpRequest> {
    let request = XmlHttpRequest::new().ok()?;
    request.open(method, url).ok()?;
    request
        .set_request_header("Authorization", &format!("Bearer {token}"))
        .ok()?;
    Some(request)
}

/// The deployment's reason from an error body, or a general one.
fn reason(body: &str) -> String {
    crate::from_json::<ApiError>(body)
        .map(|e| e.message)
        .unwrap_or_else(|| "the file could not be sent".into())
}
