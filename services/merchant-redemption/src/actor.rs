//! Who is acting: a merchant's owner or staff, on a laptop (password login) or on
//! an enrolled tablet (PIN unlock, whose token names the device).

use kernel::{MerchantId, Role, TownId};
use platform::{ApiError, ApiResult, AuthUser};
use uuid::Uuid;

/// A tablet session's token subject: `device:<device id>:<staff user id>`.
pub fn device_subject(device: Uuid, staff: Uuid) -> String {
    format!("device:{device}:{staff}")
}

#[derive(Clone, Copy, Debug)]
pub struct Actor {
    pub town: TownId,
    pub merchant: MerchantId,
    pub role: Role,
    pub staff: Option<Uuid>,
    pub device: Option<Uuid>,
}

impl Actor {
    /// The caller as a merchant's owner or staff (the only roles that redeem).
    pub fn merchant(user: &AuthUser) -> ApiResult<Actor> {
        user.require(&[Role::MerchantStaff, Role::MerchantOwner])?;
        let merchant = user
            .merchant()
            .ok_or_else(|| ApiError::forbidden("forbidden_merchant", "no merchant in the token"))?;
        let (staff, device) = match user.0.sub.strip_prefix("device:") {
            Some(rest) => {
                let mut parts = rest.splitn(2, ':');
                let device = parts.next().and_then(|d| d.parse().ok());
                let staff = parts.next().and_then(|s| s.parse().ok());
                (staff, device)
            }
            None => (user.0.sub.parse().ok(), None),
        };
        Ok(Actor {
            town: user.town(),
            merchant,
            role: user.role(),
            staff,
            device,
        })
    }
}

/// The caller may manage `merchant`: the town admin, or that merchant's owner.
pub fn require_owner_or_admin(user: &AuthUser, merchant: MerchantId) -> ApiResult<()> {
    user.require(&[Role::TownAdmin, Role::MerchantOwner])?;
    user.require_merchant(merchant)?;
    Ok(())
}

/// The merchant a merchant owner acts for (joining or leaving a promotion).
pub fn own_merchant(user: &AuthUser) -> ApiResult<MerchantId> {
    user.require(&[Role::MerchantOwner])?;
    user.merchant()
        .ok_or_else(|| ApiError::forbidden("forbidden_merchant", "no merchant"))
}
