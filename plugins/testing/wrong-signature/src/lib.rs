//! Test fixture: a component that exports `antfly:operator/scheduling@0.2.0`, the right
//! interface at the right version, but whose functions take and return other types. The
//! host must refuse it at load time, naming the export, instead of failing every call.

#[expect(unsafe_code, reason = "wit-bindgen generates the canonical ABI glue")]
mod bindings {
    wit_bindgen::generate!({
        inline: r#"
            package antfly:operator@0.2.0;

            interface scheduling {
                validate-settings: func(settings: string) -> bool;
                contribute: func(settings: string, role: u8) -> string;
            }

            world scheduling-provider {
                export scheduling;
            }
        "#,
        world: "scheduling-provider",
    });

    use super::WrongSignature;
    export!(WrongSignature);
}

struct WrongSignature;

impl bindings::exports::antfly::operator::scheduling::Guest for WrongSignature {
    fn validate_settings(settings: String) -> bool {
        settings.is_empty()
    }

    fn contribute(settings: String, role: u8) -> String {
        format!("{settings}{role}")
    }
}
