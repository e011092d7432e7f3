//! Reading server-sent events off a byte stream, shared by the API tests and the propagation
//! client of the benchmark (each includes this file).

/// Splits the complete events off the front of `buffer` and returns the data of each; events
/// without data (keep-alive comments) are skipped, an incomplete one stays in the buffer.
pub fn take_events(buffer: &mut String) -> Vec<String> {
    let mut events = Vec::new();
    while let Some(end) = buffer.find("\n\n") {
        let block: String = buffer.drain(..end + 2).collect();
        let data: String = block
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim_start)
            .collect();
        if !data.is_empty() {
            events.push(data);
        }
    }
    events
}
