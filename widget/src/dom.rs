//! The few tools the panel is drawn with: elements built directly with the DOM, attributes and
//! texts that follow the state through effects, event handlers released with their part, and
//! parts shown while a condition holds.
//!
//! The panel is drawn this way, not with Leptos's renderer (`tachys`), because that renderer
//! weighed about 57 KB of the widget's gzipped first download (see docs/benchmarks.md, "The
//! panel without Leptos's renderer"), more than the whole panel drawn by hand. The reactive state
//! (`reactive_graph`'s signals, memos and effects) is the same as before; only the parts loaded on
//! first use (`ui::later`) still render with Leptos, inside their chunk.
//!
//! Every part is built under a reactive [`Owner`] of its own: when the part goes, its owner is
//! cleaned up, which stops its effects and releases its event handlers. Each helper boxes its
//! closures, so that its code is in the download once however many places use it.

use crate::state::effect;
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Element, Event, Node};

/// The page's document.
pub fn document() -> web_sys::Document {
    web_sys::window()
        .and_then(|window| window.document())
        .expect("the widget runs in a page")
}

/// An element under construction; [`El::el`] gives the element.
pub struct El(pub Element);

impl El {
    /// A new `<tag>`.
    pub fn new(tag: &str) -> El {
        El(document()
            .create_element(tag)
            .expect("the widget's tag names are valid"))
    }

    /// The element.
    pub fn el(self) -> Element {
        self.0
    }

    /// Sets the `class` attribute.
    pub fn class(self, class: &str) -> El {
        self.0.set_class_name(class);
        self
    }

    /// Sets an attribute.
    pub fn attr(self, name: &str, value: &str) -> El {
        let _ = self.0.set_attribute(name, value);
        self
    }

    /// Sets `data-testid`, the name tests find the element by (docs/testing.md).
    pub fn testid(self, id: &str) -> El {
        self.attr("data-testid", id)
    }

    /// An attribute that follows `value`; `None` leaves it out.
    pub fn attr_with(self, name: &'static str, value: impl Fn() -> Option<String> + 'static) -> El {
        bind_attr(&self.0, name, Box::new(value));
        self
    }

    /// Appends a text (text, never HTML).
    pub fn text(self, text: &str) -> El {
        let _ = self.0.append_child(&document().create_text_node(text));
        self
    }

    /// Appends a text that follows `value`.
    pub fn text_with(self, value: impl Fn() -> String + 'static) -> El {
        let node = document().create_text_node("");
        let _ = self.0.append_child(&node);
        bind_text(node, Box::new(value));
        self
    }

    /// Appends `child`.
    pub fn child(self, child: impl AsRef<Node>) -> El {
        let _ = self.0.append_child(child.as_ref());
        self
    }

    /// Calls `handler` on each `event` until the part is gone.
    pub fn on(self, event: &str, handler: impl FnMut(Event) + 'static) -> El {
        listen(&self.0, event, Box::new(handler));
        self
    }

    /// Appends what `make` builds while `when` holds (built anew each time it starts to hold).
    pub fn show(
        self,
        when: impl Fn() -> bool + Send + Sync + 'static,
        make: impl Fn() -> Element + 'static,
    ) -> El {
        swap(
            &self.0,
            Box::new(move || u8::from(when())),
            Box::new(move |shown| (shown == 1).then(&make)),
        );
        self
    }
}

/// Keeps attribute `name` of `element` equal to `value`.
fn bind_attr(element: &Element, name: &'static str, value: Box<dyn Fn() -> Option<String>>) {
    let element = element.clone();
    effect(move || {
        let _ = match value() {
            Some(value) => element.set_attribute(name, &value),
            None => element.remove_attribute(name),
        };
    });
}

/// Keeps `node`'s text equal to `value`.
fn bind_text(node: web_sys::Text, value: Box<dyn Fn() -> String>) {
    effect(move || node.set_data(&value()));
}

/// Adds `handler` for `event` to `target`, released when the current owner is cleaned up.
pub fn listen(target: &web_sys::EventTarget, event: &str, handler: Box<dyn FnMut(Event)>) {
    let closure = Closure::wrap(handler);
    let _ = target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
    // Released with the part: its element is gone from the page by then, so no event can call
    // the handler any more. The widget has one thread, which is all the wrapper asks.
    let held = SendWrapper::new(closure);
    Owner::on_cleanup(move || drop(held));
}

/// A new owner for a part, under `parent` (the owner of what holds the part) when there is one.
/// A part's owner hangs from the owner of the whole it belongs to, not from the effect that
/// builds it: an effect cleans up what was made under it each time it runs again, and a part
/// that stays (a message line, a panel) must keep its effects until it goes.
pub fn child_owner(parent: &Option<Owner>) -> Owner {
    match parent {
        Some(parent) => parent.with(Owner::new),
        None => Owner::new(),
    }
}

/// Builds `make()` under a new owner (under `parent`), untracked.
pub fn build(parent: &Option<Owner>, make: impl FnOnce() -> Element) -> (Owner, Element) {
    let owner = child_owner(parent);
    let element = untrack(|| owner.with(make));
    (owner, element)
}

/// Shows in `parent`, at the place of this call, what `make` builds for the current `key`
/// (nothing for `None`), built anew each time the key changes; the part shown before goes with
/// its owner.
pub fn swap(
    parent: &Element,
    key: Box<dyn Fn() -> u8 + Send + Sync>,
    make: Box<dyn Fn(u8) -> Option<Element>>,
) {
    let marker = document().create_text_node("");
    let _ = parent.append_child(&marker);
    let key = Memo::new(move |_| key());
    let outer = Owner::current();
    let mut shown: Option<(Owner, Element)> = None;
    let mut last = None;
    effect(move || {
        let key = key.get();
        if last == Some(key) {
            return;
        }
        last = Some(key);
        if let Some((owner, element)) = shown.take() {
            element.remove();
            owner.cleanup();
        }
        let owner = child_owner(&outer);
        if let Some(element) = untrack(|| owner.with(|| make(key))) {
            if let Some(parent) = marker.parent_node() {
                let _ = parent.insert_before(&element, Some(&marker));
            }
            shown = Some((owner, element));
        }
    });
}

/// The value of the `<input>` an event happened on.
pub fn input_value(event: &Event) -> String {
    event
        .target()
        .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok())
        .map(|input| input.value())
        .unwrap_or_default()
}
