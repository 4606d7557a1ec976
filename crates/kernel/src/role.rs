//! Who may do what. Every role except `Visitor` belongs to one town.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Visitor,
    MerchantStaff,
    MerchantOwner,
    TicOperator,
    TownAdmin,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Visitor,
        Role::MerchantStaff,
        Role::MerchantOwner,
        Role::TicOperator,
        Role::TownAdmin,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Visitor => "visitor",
            Role::MerchantStaff => "merchant_staff",
            Role::MerchantOwner => "merchant_owner",
            Role::TicOperator => "tic_operator",
            Role::TownAdmin => "town_admin",
            Role::Auditor => "auditor",
        }
    }

    /// Merchant roles must name the merchant they act for.
    pub fn is_merchant_role(self) -> bool {
        matches!(self, Role::MerchantStaff | Role::MerchantOwner)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown role {0:?}")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().ok(), Some(role));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
