//! The composer's file parts: the attach button over a file input (`chat-attach`), and what a
//! drop on the panel or a paste into the message field hands to the driver. The checks, the upload and the sending are the driver's.

use crate::dom::El;
use crate::driver;
use crate::i18n::t;
use browser::files::files_of;
use wasm_bindgen::JsCast;
use web_sys::Element;

/// The paper clip: a label over a file input, so the browser's own picker opens.
pub fn attach_button() -> Element {
    let picked = |ev: web_sys::Event| {
        if let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        {
            driver::attach(files_of(input.files()));
            // The same file may be picked again later.
            input.set_value("");
        }
    };
    El::new("label")
        .class("attach")
        .attr_with("title", || Some(t("composer.attach")))
        .text("📎")
        .child(
            El::new("input")
                .attr("type", "file")
                .class("attach-input")
                .testid("chat-attach")
                .attr_with("aria-label", || Some(t("composer.attach")))
                .attr("multiple", "")
                .on("change", picked)
                .el(),
        )
        .el()
}

/// Files dropped on the panel are sent.
pub fn dropped(ev: web_sys::DragEvent) {
    ev.prevent_default();
    driver::attach(files_of(ev.data_transfer().and_then(|d| d.files())));
}

/// A pasted image is sent; pasted text is left to the field.
pub fn pasted(ev: web_sys::ClipboardEvent) {
    let files = files_of(ev.clipboard_data().and_then(|d| d.files()));
    if !files.is_empty() {
        ev.prevent_default();
        driver::attach(files);
    }
}
