//! Test double of the Antfly HTTP API.
