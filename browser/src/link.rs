//! The browser driver of [`client_core::Link`], shared by the widget and the console. It owns the
//! link, the sockets and timers serving it, and the app it feeds ([`LinkApp`]): it carries out the
//! link's actions with WebSockets, `XMLHttpRequest` and timers, turns browser callbacks back into
//! link inputs, hands every event to the app, and carries out whatever the app asked of the link
//! meanwhile. The app never has to remember a follow-up call.
//!
//! A page has one driver, kept here ([`Driver::install`], [`Driver::current`]), so an app's UI
//! handlers reach it with [`with`] and browser callbacks reach it by a weak handle.

use crate::{get_text, monotonic_ms, set_timeout, Socket};
use client_core::{Action, Event, Link};
use protocol::moderation::ActiveDeployment;
use std::any::Any;
use std::cell::RefCell;
use std::rc::{Rc, Weak};

/// What the widget or the console does with the link: it hears every event and renders state.
pub trait LinkApp: 'static {
    /// One event of the link. The app may use `link` (send a frame, queue a message); what that
    /// asks for is carried out once every pending event was handled.
    fn on_event(&mut self, link: &mut Link, event: Event);

    /// Runs after each batch of events (persisting what the link learnt, for example).
    fn settled(&mut self, _link: &Link) {}

    /// Whether the app still wants its link; when this turns false (a session ended), the driver
    /// stops the link and closes its sockets.
    fn wants_link(&self) -> bool {
        true
    }
}

/// Something that happened in the browser, for the link.
enum Input {
    /// The moderator answered (or not).
    Moderator(Option<ActiveDeployment>),
    /// A WebSocket opened.
    Opened(u64),
    /// A text frame arrived.
    Text(u64, String),
    /// A WebSocket closed or failed.
    Closed(u64),
    /// A timer the driver set went off.
    Timer,
}

/// A link and the browser resources serving it.
struct Connection {
    /// The state machine.
    link: Link,
    /// Its open sockets, with the link's number for each (two at most, during a switch or a
    /// race: a list is enough, and keeps a hash table's code out of the download).
    sockets: Vec<(u64, Socket)>,
    /// When the earliest pending timer fires (monotonic ms), so timers are not stacked up.
    timer_at: Option<u64>,
    /// Which link this is: callbacks of a replaced link carry an older number and are ignored.
    generation: u64,
}

/// Everything one driver holds.
struct Inner<A> {
    /// The app the link's events go to.
    app: A,
    /// The link, while the app has one (the console has none while logged out).
    connection: Option<Connection>,
    /// How many links this driver has started.
    generations: u64,
}

/// The driver of one app. Cheap to clone (a shared handle).
pub struct Driver<A: LinkApp> {
    inner: Rc<RefCell<Inner<A>>>,
}

impl<A: LinkApp> Clone for Driver<A> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

thread_local! {
    /// The page's driver (a page runs one app: the widget or the console), for
    /// [`Driver::current`].
    static INSTALLED: RefCell<Option<Rc<dyn Any>>> = const { RefCell::new(None) };
}

/// Runs `f` on the page's app of type `A` and its link (if any), then carries out what followed.
/// `None` when no such driver is installed.
pub fn with<A: LinkApp, R>(f: impl FnOnce(&mut A, Option<&mut Link>) -> R) -> Option<R> {
    Driver::<A>::current().map(|driver| driver.update(f))
}

impl<A: LinkApp> Driver<A> {
    /// Installs the page's driver for `app`, without a link yet (replacing any earlier one).
    pub fn install(app: A) -> Self {
        let inner = Rc::new(RefCell::new(Inner {
            app,
            connection: None,
            generations: 0,
        }));
        INSTALLED.with(|installed| *installed.borrow_mut() = Some(inner.clone()));
        listen_for_the_network(Rc::downgrade(&inner));
        Driver { inner }
    }

    /// The page's driver, if one for an app of type `A` is installed.
    pub fn current() -> Option<Self> {
        let installed = INSTALLED.with(|installed| installed.borrow().clone())?;
        let inner = installed.downcast::<RefCell<Inner<A>>>().ok()?;
        Some(Driver { inner })
    }

    /// Runs `f` on the app and its link, then hands the events that followed to the app and
    /// carries out the link's actions.
    pub fn update<R>(&self, f: impl FnOnce(&mut A, Option<&mut Link>) -> R) -> R {
        let result = {
            let mut inner = self.inner.borrow_mut();
            let Inner {
                app, connection, ..
            } = &mut *inner;
            f(app, connection.as_mut().map(|c| &mut c.link))
        };
        self.settle();
        result
    }

    /// Starts `link` for the app (replacing any earlier one).
    pub fn connect(&self, mut link: Link) {
        {
            let mut inner = self.inner.borrow_mut();
            inner.generations += 1;
            let generation = inner.generations;
            // Apps connect only while no link runs; one left over would be dropped here, its
            // sockets closed (this never runs inside a socket's callback).
            link.start(monotonic_ms());
            inner.connection = Some(Connection {
                link,
                sockets: Vec::new(),
                timer_at: None,
                generation,
            });
        }
        self.settle();
    }

    /// Feeds one browser event to the link of `generation` (if it is still the current one).
    fn input(&self, generation: u64, input: Input) {
        {
            let mut inner = self.inner.borrow_mut();
            let Some(connection) = inner
                .connection
                .as_mut()
                .filter(|c| c.generation == generation)
            else {
                return;
            };
            connection.feed(input);
        }
        self.settle();
    }

    /// Hands every pending event to the app, drops the link if the app no longer wants it, and
    /// carries out the link's actions.
    fn settle(&self) {
        let weak = Rc::downgrade(&self.inner);
        let mut inner = self.inner.borrow_mut();
        let Inner {
            app, connection, ..
        } = &mut *inner;
        let Some(current) = connection else {
            return;
        };
        while let Some(event) = current.link.poll_event() {
            app.on_event(&mut current.link, event);
        }
        app.settled(&current.link);
        if !app.wants_link() {
            if let Some(old) = connection.take() {
                old.close();
            }
            return;
        }
        current.carry_out(&Deliver {
            inner: weak,
            generation: current.generation,
        });
    }
}

/// Tells the link when the browser's network is back (`online`), so that it stops waiting on
/// what failed while it was gone (see [`Link::network_back`]): a visitor whose connection came
/// back talks again at once, not after the rest of a backoff of up to ten seconds and a
/// connection attempt's timeout. The listener lives as long as the page; once its driver is
/// replaced, it finds nothing behind its weak handle.
fn listen_for_the_network<A: LinkApp>(inner: Weak<RefCell<Inner<A>>>) {
    use wasm_bindgen::{closure::Closure, JsCast};
    fn back<A: LinkApp>(inner: &Weak<RefCell<Inner<A>>>) {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if inner.try_borrow_mut().is_err() {
            // The driver is busy (never seen: events do not interrupt a handler); next turn.
            let weak = Rc::downgrade(&inner);
            set_timeout(0, move || back(&weak));
            return;
        }
        Driver { inner }.update(|_, link| {
            if let Some(link) = link {
                link.network_back(monotonic_ms());
            }
        });
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let online = Closure::<dyn FnMut()>::new(move || back(&inner));
    let _ = window.add_event_listener_with_callback("online", online.as_ref().unchecked_ref());
    online.forget();
}

/// How browser callbacks reach a driver: by a weak handle (a dropped driver hears nothing), and
/// never re-entering it: an input arriving while the driver is busy (a request that failed at
/// once) waits for the next turn of the event loop.
struct Deliver<A: LinkApp> {
    /// The driver, if it still exists.
    inner: Weak<RefCell<Inner<A>>>,
    /// The link the callbacks belong to.
    generation: u64,
}

impl<A: LinkApp> Clone for Deliver<A> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            generation: self.generation,
        }
    }
}

impl<A: LinkApp> Deliver<A> {
    fn send(&self, input: Input) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        if inner.try_borrow_mut().is_err() {
            let later = self.clone();
            set_timeout(0, move || later.send(input));
            return;
        }
        Driver { inner }.input(self.generation, input);
    }
}

impl Connection {
    /// Stops the link and closes its sockets. This may run inside one of their own callbacks, so
    /// they are freed on the next turn; their late callbacks find no link of their generation.
    fn close(mut self) {
        self.link.stop();
        for (_, socket) in self.sockets.drain(..) {
            socket.dispose_later();
        }
    }

    /// Removes the socket of connection `conn`, if it is open.
    fn take_socket(&mut self, conn: u64) -> Option<Socket> {
        let at = self.sockets.iter().position(|(c, _)| *c == conn)?;
        Some(self.sockets.swap_remove(at).1)
    }

    /// Feeds one browser event to the link.
    fn feed(&mut self, input: Input) {
        let now = monotonic_ms();
        match input {
            Input::Moderator(answer) => self.link.moderator_answered(now, answer),
            Input::Opened(conn) => self.link.opened(conn, now),
            Input::Text(conn, text) => match crate::json::server_frame_from_json(&text) {
                Some(frame) => self.link.received(conn, now, frame),
                None => web_sys::console::warn_1(&"LiveChat: ignoring an unreadable frame".into()),
            },
            Input::Closed(conn) => {
                if let Some(socket) = self.take_socket(conn) {
                    // This runs inside the socket's own callback: free it afterwards.
                    socket.dispose_later();
                }
                self.link.closed(conn, now);
            }
            Input::Timer => {
                self.timer_at = None;
                self.link.handle_timeout(now);
            }
        }
    }

    /// Carries out every pending action and sets the timer the link asks for.
    fn carry_out<A: LinkApp>(&mut self, deliver: &Deliver<A>) {
        while let Some(action) = self.link.poll_action() {
            match action {
                Action::AskModerator { url, timeout_ms } => {
                    let deliver = deliver.clone();
                    get_text(&url, timeout_ms, move |answer| {
                        let decision = answer
                            .filter(|(status, _)| *status == 200)
                            .and_then(|(_, body)| crate::from_json(&body));
                        deliver.send(Input::Moderator(decision));
                    });
                }
                Action::Open { conn, url } => {
                    let (opened, text, closed) =
                        (deliver.clone(), deliver.clone(), deliver.clone());
                    let socket = Socket::open(
                        &url,
                        move || opened.send(Input::Opened(conn)),
                        move |frame| text.send(Input::Text(conn, frame)),
                        move || closed.send(Input::Closed(conn)),
                    );
                    match socket {
                        Ok(socket) => {
                            // The link never reuses a connection's number.
                            self.sockets.push((conn, socket));
                        }
                        // An invalid URL fails at once; report it as a closed connection on
                        // the next turn, as a browser would.
                        Err(_) => {
                            let closed = deliver.clone();
                            set_timeout(0, move || closed.send(Input::Closed(conn)));
                        }
                    }
                }
                Action::Send { conn, frame } => {
                    if let Some((_, socket)) = self.sockets.iter().find(|(c, _)| *c == conn) {
                        socket.send(&frame);
                    }
                }
                Action::Close { conn } => {
                    if let Some(socket) = self.take_socket(conn) {
                        socket.dispose_later();
                    }
                }
            }
        }
        if let Some(at) = self.link.poll_timeout() {
            if self.timer_at.is_none_or(|scheduled| at < scheduled) {
                self.timer_at = Some(at);
                let delay = at.saturating_sub(monotonic_ms());
                let deliver = deliver.clone();
                set_timeout(delay, move || deliver.send(Input::Timer));
            }
        }
    }
}
