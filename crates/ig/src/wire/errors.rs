//! IG's error body: `{"errorCode": "..."}` on every 4xx/5xx.

use serde::{Deserialize, Serialize};

/// The body of an IG error response. The code may be a dotted identifier or free text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorBody {
    pub error_code: Option<String>,
}
