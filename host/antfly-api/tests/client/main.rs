//! Integration tests of the Antfly API client against the test double of the Antfly HTTP API
//! (and, for hostile peers, against raw TCP listeners). One binary, to spare CI's disk.

mod backup;
mod drain;
mod hostile;
mod readiness;
mod restore;
mod retries;
mod support;
