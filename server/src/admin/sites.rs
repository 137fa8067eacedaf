//! Sites: create, edit and remove them, their look, forms and identity secret, the snippet to
//! paste, and the public widget configuration the loader reads.

use super::{caller_base, not_found, refused, site_path};
use crate::auth;
use crate::error::ApiFailure;
use crate::extract::{Admin, ApiJson, ApiPath};
use crate::state::AppState;
use crate::store::{normalise_origin, validate, Site, ANY_ORIGIN};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::admin::{
    AdminSite, Appearance, FieldError, SiteDraft, SiteEdit, SiteForms, Snippet, WidgetConfig,
};
use protocol::replication::SiteSetting;
use protocol::{ErrorCode, SiteId};

/// A site's name and origins, checked and normalised.
fn site_fields(name: &str, origins: &[String]) -> Result<(String, Vec<String>), ApiFailure> {
    validate::text("site name", name).map_err(|e| ApiFailure::field(FieldError::new("name", e)))?;
    let origin_error =
        |message: String| ApiFailure::field(FieldError::new("allowed_origins", message));
    let origins: Vec<&str> = origins
        .iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .collect();
    if origins.is_empty() {
        return Err(origin_error(
            "name at least one origin (https://shop.example), or * to let every page embed the chat"
                .into(),
        ));
    }
    if origins.len() > 100 {
        return Err(origin_error("a site has at most 100 origins".into()));
    }
    if origins.contains(&ANY_ORIGIN) {
        return match origins.len() {
            1 => Ok((name.trim().to_owned(), vec![ANY_ORIGIN.to_owned()])),
            _ => Err(origin_error(
                "* already allows every page; remove it or the other origins".into(),
            )),
        };
    }
    let mut normalised = Vec::with_capacity(origins.len());
    for origin in origins {
        let origin = normalise_origin(origin).map_err(origin_error)?;
        if !normalised.contains(&origin) {
            normalised.push(origin);
        }
    }
    Ok((name.trim().to_owned(), normalised))
}

#[utoipa::path(
    get,
    path = "/v1/admin/sites",
    tag = "admin",
    summary = "Sites (admins)",
    security(("operator" = [])),
    responses((status = 200, description = "Every site", body = Vec<protocol::admin::AdminSite>), crate::error::Refusals)
)]
pub(super) async fn list_sites(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Json<Vec<AdminSite>>, ApiFailure> {
    Ok(Json(state.store.read(|r| r.admin_sites()).await?))
}

#[utoipa::path(
    get,
    path = "/v1/admin/sites/{id}",
    tag = "admin",
    summary = "One site (admins)",
    security(("operator" = [])),
    params(("id" = String, Path, description = "The site")),
    responses((status = 200, description = "The site", body = protocol::admin::AdminSite), crate::error::Refusals)
)]
pub(super) async fn show_site(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<AdminSite>, ApiFailure> {
    let id = site_path(id)?;
    let site = state.store.read(move |r| r.admin_site(&id)).await?;
    Ok(Json(site.ok_or_else(|| not_found("site"))?))
}

/// The site as stored after a write, for the answer.
async fn stored_site(state: &AppState, id: SiteId) -> Result<Json<AdminSite>, ApiFailure> {
    let site = state.store.read(move |r| r.admin_site(&id)).await?;
    Ok(Json(site.ok_or_else(|| not_found("site"))?))
}

#[utoipa::path(
    post,
    path = "/v1/admin/sites",
    tag = "admin",
    summary = "Create a site (admins)",
    security(("operator" = [])),
    request_body = protocol::admin::SiteDraft,
    responses((status = 201, description = "Created", body = protocol::admin::AdminSite), crate::error::Refusals)
)]
pub(super) async fn create_site(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(draft): ApiJson<SiteDraft>,
) -> Result<(StatusCode, Json<AdminSite>), ApiFailure> {
    validate::site_id(&draft.id).map_err(|_| {
        ApiFailure::field(FieldError::new(
            "id",
            "a site id has 1 to 64 letters, digits, -, _ and . (it goes into the snippet)",
        ))
    })?;
    let (name, allowed_origins) = site_fields(&draft.name, &draft.allowed_origins)?;
    let site = Site {
        id: draft.id.clone(),
        name,
        allowed_origins,
    };
    let secret = auth::new_secret();
    state
        .store
        .write(move |w| w.create_site(&site, secret))
        .await
        .map_err(|e| refused(e, "id"))?;
    tracing::info!(site = %draft.id, by = %admin.email, "site created");
    Ok((StatusCode::CREATED, stored_site(&state, draft.id).await?))
}

#[utoipa::path(
    put,
    path = "/v1/admin/sites/{id}",
    tag = "admin",
    summary = "Edit a site (admins)",
    security(("operator" = [])),
    params(("id" = String, Path, description = "The site")),
    request_body = protocol::admin::SiteEdit,
    responses((status = 200, description = "Saved", body = protocol::admin::AdminSite), crate::error::Refusals)
)]
pub(super) async fn edit_site(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(edit): ApiJson<SiteEdit>,
) -> Result<Json<AdminSite>, ApiFailure> {
    let id = site_path(id)?;
    let (name, allowed_origins) = site_fields(&edit.name, &edit.allowed_origins)?;
    let site = Site {
        id: id.clone(),
        name,
        allowed_origins,
    };
    state.store.write(move |w| w.edit_site(&site)).await?;
    stored_site(&state, id).await
}

#[utoipa::path(
    delete,
    path = "/v1/admin/sites/{id}",
    tag = "admin",
    summary = "Remove a site (admins)",
    security(("operator" = [])),
    params(("id" = String, Path, description = "The site")),
    responses((status = 204, description = "Removed (its transcripts are kept)"), crate::error::Refusals)
)]
pub(super) async fn remove_site(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiFailure> {
    let id = site_path(id)?;
    let shown = id.clone();
    state.store.write(move |w| w.remove_site(&id)).await?;
    tracing::info!(site = %shown, by = %admin.email, "site removed");
    Ok(StatusCode::NO_CONTENT)
}

/// Stores one setting of a site and answers with the site.
pub(super) async fn set_setting(
    state: &AppState,
    id: String,
    setting: SiteSetting,
) -> Result<Json<AdminSite>, ApiFailure> {
    let id = site_path(id)?;
    let site = id.clone();
    state
        .store
        .write(move |w| w.set_site_setting(&site, setting))
        .await?;
    stored_site(state, id).await
}

#[utoipa::path(
    put,
    path = "/v1/admin/sites/{id}/appearance",
    tag = "admin",
    summary = "A site's look (admins)",
    security(("operator" = [])),
    params(("id" = String, Path, description = "The site")),
    request_body = protocol::appearance::Appearance,
    responses((status = 200, description = "Saved", body = protocol::admin::AdminSite), crate::error::Refusals)
)]
pub(super) async fn set_appearance(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(appearance): ApiJson<Appearance>,
) -> Result<Json<AdminSite>, ApiFailure> {
    appearance.check().map_err(ApiFailure::field)?;
    set_setting(&state, id, SiteSetting::Appearance(appearance)).await
}

#[utoipa::path(
    put,
    path = "/v1/admin/sites/{id}/forms",
    tag = "admin",
    summary = "A site's forms and file rules (admins)",
    security(("operator" = [])),
    params(("id" = String, Path, description = "The site")),
    request_body = protocol::admin::SiteForms,
    responses((status = 200, description = "Saved", body = protocol::admin::AdminSite), crate::error::Refusals)
)]
pub(super) async fn set_forms(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(forms): ApiJson<SiteForms>,
) -> Result<Json<AdminSite>, ApiFailure> {
    forms.check().map_err(ApiFailure::field)?;
    set_setting(&state, id, SiteSetting::Forms(forms)).await
}

#[utoipa::path(
    post,
    path = "/v1/admin/sites/{id}/identity-secret",
    tag = "admin",
    summary = "Rotate a site's identity secret (admins)",
    security(("operator" = [])),
    params(("id" = String, Path, description = "The site")),
    responses((status = 200, description = "A new identity secret", body = protocol::admin::AdminSite), crate::error::Refusals)
)]
pub(super) async fn rotate_secret(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<AdminSite>, ApiFailure> {
    tracing::info!(site = %id, by = %admin.email, "identity secret rotated");
    set_setting(&state, id, SiteSetting::IdentitySecret(auth::new_secret())).await
}

/// The snippet for `site`: the settings (site id, both deployments, the moderator) and the
/// loader, inline, so that the page does not depend on any one deployment to start the chat.
pub fn render_snippet(site: &SiteId, deployments: &[String], moderator: Option<&str>) -> String {
    let settings = serde_json::json!({
        "siteId": site.0,
        "deployments": deployments,
        "moderator": moderator,
    });
    // `<` never appears raw inside the script, so no value can close it early.
    let settings = serde_json::to_string_pretty(&settings)
        .expect("settings serialise")
        .replace('<', "\\u003c")
        .replace('\n', "\n  ");
    format!(
        "<!-- LiveChat: paste this before </head> on every page that shows the chat. -->\n\
         <script>\n  window.LiveChat = {settings};\n</script>\n<script>\n{}\n</script>\n",
        crate::assets::LOADER.trim()
    )
}

#[utoipa::path(
    get,
    path = "/v1/admin/sites/{id}/snippet",
    tag = "admin",
    summary = "A site's snippet (admins)",
    security(("operator" = [])),
    params(("id" = String, Path, description = "The site")),
    responses((status = 200, description = "The snippet to paste", body = protocol::admin::Snippet), crate::error::Refusals)
)]
pub(super) async fn snippet(
    State(state): State<AppState>,
    _: Admin,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Snippet>, ApiFailure> {
    let id = site_path(id)?;
    let lookup = id.clone();
    state
        .store
        .read(move |r| r.site(&lookup))
        .await?
        .ok_or_else(|| not_found("site"))?;
    let deployments = match state.config.public_urls.is_empty() {
        false => state.config.public_urls.clone(),
        true => vec![caller_base(&state, &headers)],
    };
    Ok(Json(Snippet {
        snippet: render_snippet(&id, &deployments, state.config.moderator_url.as_deref()),
    }))
}

/// `GET /v1/sites/{id}/widget-config`: public and cacheable for a short while. An unknown or
/// removed site and a page whose origin the site does not allow get one and the same 404, as a
/// visitor's `hello` does. A request without `Origin` (same-origin, or not from a browser) is
/// answered: the configuration is public.
#[utoipa::path(
    get,
    path = "/v1/sites/{id}/widget-config",
    tag = "widget",
    summary = "The widget's configuration (public)",
    params(("id" = String, Path, description = "The site")),
    responses((status = 200, description = "The widget's configuration for this site", body = protocol::admin::WidgetConfig), crate::error::Refusals)
)]
pub(super) async fn widget_config(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Response {
    match site_config(&state, &headers, id).await {
        Ok(response) => response,
        // Readable by any page (it tells nothing: every refusal is the same), so the loader can
        // tell "not available here" from a deployment that did not answer and try no further.
        Err(failure) => {
            let mut response = failure.into_response();
            response.headers_mut().insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            response
        }
    }
}

/// The configuration of site `id` for the page `headers` come from.
async fn site_config(
    state: &AppState,
    headers: &HeaderMap,
    id: String,
) -> Result<Response, ApiFailure> {
    let unavailable = || {
        ApiFailure::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "this chat is not available on this page",
        )
    };
    let id = site_path(id).map_err(|_| unavailable())?;
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let lookup = id.clone();
    let site = state
        .store
        .read(move |r| r.admin_site(&lookup))
        .await?
        .ok_or_else(unavailable)?;
    let allowed = Site {
        id: site.id.clone(),
        name: site.name.clone(),
        allowed_origins: site.allowed_origins.clone(),
    };
    if origin
        .as_deref()
        .is_some_and(|o| !allowed.allows_origin(Some(o)))
    {
        return Err(unavailable());
    }
    let online = state.presence.online_for(&site.id);
    let deployment_files = state.config.file_rules();
    let files = match &site.forms.files {
        Some(rules) => rules.within(&deployment_files),
        None => deployment_files,
    };
    let config = WidgetConfig {
        site_id: site.id,
        appearance: site.appearance,
        files: Some(files),
        forms: site.forms,
        online,
        mail: state.config.smtp_url.is_some(),
    };
    let max_age = state.config.widget_config_max_age_secs;
    let mut response = Json(config).into_response();
    let headers = response.headers_mut();
    if let Some(value) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={max_age}")).expect("ASCII"),
    );
    Ok(response)
}
