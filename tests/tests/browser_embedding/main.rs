//! What a site embedding the chat relies on, in Chromium against real deployments: the page's
//! JavaScript API and identity verification (`api`), accessibility checked by axe-core and the
//! keyboard (`a11y`), and the chat through a total outage (`offline`). One test binary for the
//! three, so they are linked once and run side by side.

mod a11y;
mod api;
mod offline;
