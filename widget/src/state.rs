//! The reactive state the widget renders. The driver writes it; the components read it.

use client_core::Transcript;
use leptos::prelude::*;
use protocol::ConversationSummary;

/// The connection as the visitor sees it (`chat-connection`'s `data-state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// Opening a connection or waiting for the welcome.
    Connecting,
    /// Welcomed; messages flow.
    Online,
    /// No connection; retrying in the background. Messages typed now wait in the outbox.
    Offline,
    /// The deployment speaks a newer protocol: the page must be reloaded.
    Outdated,
    /// The site is unknown or does not allow this page.
    Unavailable,
}

impl ConnectionState {
    /// The name used in `data-state`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Connecting => "connecting",
            ConnectionState::Online => "online",
            ConnectionState::Offline => "offline",
            ConnectionState::Outdated => "outdated",
            ConnectionState::Unavailable => "unavailable",
        }
    }
}

/// Every signal of the widget; `Copy`, so closures capture it freely.
#[derive(Clone, Copy)]
pub struct ChatState {
    /// Whether the panel is open.
    pub open: RwSignal<bool>,
    /// The connection's state.
    pub connection: RwSignal<ConnectionState>,
    /// The base URL of the deployment the widget is connected to, while online.
    pub deployment: RwSignal<Option<String>>,
    /// The current conversation's messages.
    pub transcript: RwSignal<Transcript>,
    /// The current conversation's summary (state, operator).
    pub conversation: RwSignal<Option<ConversationSummary>>,
    /// The name of the operator typing now, if any.
    pub operator_typing: RwSignal<Option<String>>,
    /// A short message for the visitor (a refused message, a reload request).
    pub notice: RwSignal<Option<String>>,
    /// Operator messages that arrived while the panel was closed or the page hidden.
    pub unread: RwSignal<u32>,
    /// Whether the visitor muted the chime.
    pub muted: RwSignal<bool>,
    /// What the visitor is typing (the composer's field; the emoji picker adds to it).
    pub draft: RwSignal<String>,
    /// The emoji table, once fetched.
    pub emoji: RwSignal<Option<crate::emoji::Table>>,
    /// Whether the emoji picker is open.
    pub emoji_open: RwSignal<bool>,
    /// How many times the chime played (the launcher's `data-chimes`, for tests).
    pub chimes: RwSignal<u32>,
    /// Whether an operator who serves the site is online; unknown until the first welcome.
    pub online: RwSignal<Option<bool>>,
    /// Whether the visitor has told who they are (a returning visitor, or the pre-chat form
    /// filled in), so the pre-chat form is not shown again.
    pub details_known: RwSignal<bool>,
    /// Whether the offline form was sent in this conversation (its confirmation shows).
    pub offline_sent: RwSignal<bool>,
    /// Why a form was not sent, for the visitor.
    pub form_error: RwSignal<Option<String>>,
    /// Whether the visitor has typed into the form shown now: it then stays until sent, even
    /// when someone comes online or goes away meanwhile (nothing typed is thrown away).
    pub form_dirty: RwSignal<bool>,
    /// The visitor's messages still in the outbox (stored nowhere yet, or on one deployment
    /// only): the others are on both (`delivered`).
    pub unconfirmed: RwSignal<Vec<protocol::MessageId>>,
    /// Whether the page is visible (messages are read only while it is and the panel is open).
    pub visible: RwSignal<bool>,
    /// The rating the visitor gave the ended conversation, until the summary carries it.
    pub rating_given: RwSignal<bool>,
    /// What became of the last request to e-mail the transcript: `Ok` once queued, `Err` with
    /// the deployment's reason; `None` before any.
    pub transcript_mail: RwSignal<Option<Result<(), String>>>,
    /// The score chosen in the rating form, not sent yet.
    pub rating_choice: RwSignal<Option<u8>>,
    /// The comment typed into the rating form, not sent yet.
    pub rating_comment: RwSignal<String>,
    /// The visitor's token, once a deployment issued one (files are fetched with it).
    pub token: RwSignal<Option<String>>,
    /// The files being uploaded now.
    pub uploads: RwSignal<Vec<browser::files::Uploading>>,
    /// Whether the page hid the launcher (`hide` in the API; `show` brings it back).
    pub launcher_hidden: RwSignal<bool>,
    /// The locale the page chose (`setLocale`), canonical (`pt-BR`).
    pub locale: RwSignal<Option<String>>,
    /// The site's language (snippet or admin app), used when the page chose none.
    pub site_language: RwSignal<Option<String>>,
}

impl ChatState {
    /// The initial state: closed, connecting, empty.
    pub fn new() -> Self {
        Self {
            open: RwSignal::new(false),
            connection: RwSignal::new(ConnectionState::Connecting),
            deployment: RwSignal::new(None),
            transcript: RwSignal::new(Transcript::default()),
            conversation: RwSignal::new(None),
            operator_typing: RwSignal::new(None),
            notice: RwSignal::new(None),
            unread: RwSignal::new(0),
            muted: RwSignal::new(false),
            chimes: RwSignal::new(0),
            draft: RwSignal::new(String::new()),
            emoji: RwSignal::new(None),
            emoji_open: RwSignal::new(false),
            online: RwSignal::new(None),
            details_known: RwSignal::new(false),
            offline_sent: RwSignal::new(false),
            form_error: RwSignal::new(None),
            form_dirty: RwSignal::new(false),
            unconfirmed: RwSignal::new(Vec::new()),
            visible: RwSignal::new(true),
            rating_given: RwSignal::new(false),
            transcript_mail: RwSignal::new(None),
            rating_choice: RwSignal::new(None),
            rating_comment: RwSignal::new(String::new()),
            token: RwSignal::new(None),
            uploads: RwSignal::new(Vec::new()),
            launcher_hidden: RwSignal::new(false),
            locale: RwSignal::new(None),
            site_language: RwSignal::new(None),
        }
    }
}

impl ChatState {
    /// Where the widget fetches files now: the deployment it is connected to, with its token.
    pub fn file_source(self) -> browser::files::Source {
        std::sync::Arc::new(move || {
            Some((
                self.deployment.get_untracked()?,
                self.token.get_untracked()?,
            ))
        })
    }
}

impl Default for ChatState {
    fn default() -> Self {
        Self::new()
    }
}

impl ChatState {
    /// The locale texts and times are shown in: the page's choice (`setLocale`), else the
    /// site's language, else the browser's.
    pub fn shown_locale(self) -> String {
        self.locale
            .get()
            .or_else(|| self.site_language.get())
            .unwrap_or_else(browser_language)
    }

    /// [`ChatState::shown_locale`] without subscribing to it.
    pub fn shown_locale_untracked(self) -> String {
        self.locale
            .get_untracked()
            .or_else(|| self.site_language.get_untracked())
            .unwrap_or_else(browser_language)
    }
}

fn browser_language() -> String {
    web_sys::window()
        .and_then(|w| w.navigator().language())
        .unwrap_or_else(|| "en".into())
}

/// Whether `locale` is written right to left (Arabic, Hebrew, Persian, Urdu).
pub fn right_to_left(locale: &str) -> bool {
    let language = locale.split(['-', '_']).next().unwrap_or_default();
    matches!(
        language.to_ascii_lowercase().as_str(),
        "ar" | "he" | "fa" | "ur"
    )
}

/// Runs `f` now and again whenever a signal it read changes (after the change, as
/// `Effect::new`). Every effect made here has the same type, so the effect machinery's code is in
/// the download once rather than once for each effect (about 0.8 KB each).
pub fn effect(f: impl FnMut() + 'static) {
    let f: Box<dyn FnMut()> = Box::new(f);
    Effect::new(f);
}

/// [`effect`] for a function of the value it returned the time before (`None` the first time),
/// like `Effect::new` with a parameter.
pub fn effect_on<T: 'static>(mut f: impl FnMut(Option<T>) -> T + 'static) {
    let mut last = None;
    effect(move || last = Some(f(last.take())));
}
