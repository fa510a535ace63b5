//! The panic hook every SDK plugin installs: it hands a panic's message and location to the
//! host through the host's `antfly:sandbox/guest-panic` import, so that the host never has
//! to guess a panic from what the plugin wrote to stderr (which a plugin controls).

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        inline: r#"
            package antfly:sandbox@0.1.0;

            /// Provided by the antfly-operator plugin host; the SDK's panic hook calls it.
            interface guest-panic {
                /// The message of the panic and where it happened (`src/lib.rs:12:5`).
                report: func(message: string, location: string);
            }

            world panic-hook {
                import guest-panic;
            }
        "#,
        world: "antfly:sandbox/panic-hook",
    });
}

/// Installs the hook, once per instance. Every exported call runs it first (see
/// [`crate::export!`]); the host creates a fresh instance per call.
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("Box<dyn Any>");
            let location = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
            bindings::antfly::sandbox::guest_panic::report(message, location.as_deref().unwrap_or_default());
        }));
    });
}
