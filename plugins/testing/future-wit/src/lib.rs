//! Test fixture: a scheduling provider built against `antfly:operator@1.0.0`, an
//! incompatible major version of the WIT. The host must refuse to load it.

#[expect(unsafe_code, reason = "wit-bindgen generates the canonical ABI glue")]
mod bindings {
    wit_bindgen::generate!({
        world: "scheduling-provider",
        path: "wit",
    });

    use super::Future;
    export!(Future);
}

struct Future;

impl bindings::exports::antfly::operator::scheduling::Guest for Future {
    fn contribute(view: String) -> String {
        view
    }
}
