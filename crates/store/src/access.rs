//! Who may use the API: named tokens (kept as hashes) and the audit log of what they
//! changed.

/// A stored API token. The token itself is never stored: `hash` is its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    /// `read`, `operate` or `admin` (the server parses it into its role type).
    pub role: String,
    pub hash: [u8; 32],
    /// Unix µs.
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A token to add.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub name: String,
    pub role: String,
    pub hash: [u8; 32],
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

/// One state-changing action, as the audit log keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    /// Unix µs.
    pub at: i64,
    /// The token's name (`session:` is not added: a console session acts as its token).
    pub token: String,
    /// The client's address, as the server judged it (behind trusted proxies, the
    /// forwarded one).
    pub client: String,
    /// What was done, e.g. `incident.ack` or `webhook.update`.
    pub action: String,
    /// What it was done to, e.g. `incident/42`.
    pub target: String,
    /// The HTTP status the action was answered with.
    pub status: u16,
    /// JSON, with secrets redacted.
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A stored audit record.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditRow {
    pub id: i64,
    pub record: AuditRecord,
}

/// Filters of the audit log; `None` does not filter.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub token: Option<String>,
    pub action: Option<String>,
    /// Records whose target starts with this.
    pub target: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// A source added at run time (`/api/v1/sources`): its settings as JSON, secrets
/// included (the store seals them at rest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceRow {
    pub name: String,
    pub record: String,
    /// Unix µs.
    pub created_at: i64,
    pub modified_at: i64,
}

/// Why a token could not be added or revoked.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token named `{0}` already exists")]
    NameTaken(String),
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}

/// The store's part for tokens and the audit log (every `Store` has it).
#[async_trait::async_trait]
pub trait Access: Send + Sync {
    /// Every token, revoked ones too, oldest first.
    async fn tokens(&self) -> Result<Vec<TokenRow>, crate::StoreError>;

    /// Adds a token; its name must not be taken by a live token.
    async fn create_token(&self, token: NewToken) -> Result<TokenRow, TokenError>;

    /// Revokes the live token named `name` at `at`; false when there is none.
    async fn revoke_token(&self, name: &str, at: i64) -> Result<bool, crate::StoreError>;

    /// Records tokens' last use: (token id, unix µs).
    async fn touch_tokens(&self, used: Vec<(i64, i64)>) -> Result<(), crate::StoreError>;

    /// Appends an audit record; returns its id.
    async fn append_audit(&self, record: AuditRecord) -> Result<i64, crate::StoreError>;

    /// The sources added at run time, by name.
    async fn sources(&self) -> Result<Vec<SourceRow>, crate::StoreError>;

    /// Adds or replaces a source added at run time.
    async fn put_source(&self, row: SourceRow) -> Result<(), crate::StoreError>;

    /// Removes a source added at run time; false when there is none of that name.
    async fn delete_source(&self, name: &str) -> Result<bool, crate::StoreError>;

    /// A page of the audit log.
    async fn audit(
        &self,
        filter: AuditFilter,
        page: crate::PageRequest,
    ) -> Result<crate::Page<AuditRow>, crate::StoreError>;
}
