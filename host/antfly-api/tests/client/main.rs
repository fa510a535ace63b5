//! Integration tests of the client against the test double.
