//! The bounded YAML reader (`sealant_core::input`): whatever the text, the check and the read
//! never panic, and a text the check accepts is read without serde_yaml hitting its own recursion
//! limit (which would mean a nesting the walk missed).

#![no_main]

use libfuzzer_sys::fuzz_target;

use sealant_core::input::{self, ReadError};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        let _ = input::json_from_slice::<serde_json::Value>("fuzz", data);
        return;
    };
    let checked = input::check(text);
    match input::yaml_documents("fuzz", text) {
        Ok(_) => assert!(checked.is_ok()),
        Err(ReadError::Refused { refusal, .. }) => assert_eq!(checked, Err(refusal)),
        Err(ReadError::Invalid { message, .. }) => {
            assert!(checked.is_ok());
            assert!(!message.contains("recursion limit exceeded"), "{message}");
        }
    }
    let _ = input::json_from_slice::<serde_json::Value>("fuzz", data);
});
