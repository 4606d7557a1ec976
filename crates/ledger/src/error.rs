use kernel::AccountId;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("invalid posting: {0}")]
    Invalid(String),
    #[error("unknown account {0} in this town")]
    UnknownAccount(AccountId),
    #[error("account {0} may not go below zero")]
    InsufficientBalance(AccountId),
    #[error("idempotency key {0:?} was already used for a different posting")]
    IdempotencyConflict(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl LedgerError {
    /// A stable code for the error envelope.
    pub fn code(&self) -> &'static str {
        match self {
            LedgerError::Invalid(_) => "ledger_invalid_posting",
            LedgerError::UnknownAccount(_) => "ledger_unknown_account",
            LedgerError::InsufficientBalance(_) => "ledger_insufficient_balance",
            LedgerError::IdempotencyConflict(_) => "idempotency_conflict",
            LedgerError::Db(_) => "internal",
        }
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error, constraint: &str) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("23505") && db.constraint() == Some(constraint))
}
