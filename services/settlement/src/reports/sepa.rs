//! The payout file: a SEPA credit transfer initiation, ISO 20022 pain.001.001.09,
//! paying each merchant's co-financed share from the municipality's IBAN.
//! Written by hand (a few elements; every text escaped and cut to its length).

use std::io::Write;

use rust_decimal::Decimal;

use super::{HashingFile, ReportFile, point};
use crate::domain::statement::Summary;

#[derive(Debug, thiserror::Error)]
pub enum SepaError {
    #[error("the period is not closed: its payout file would change")]
    NotClosed,
    #[error("merchant {0} has no IBAN")]
    NoIban(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn esc(s: &str, max: usize) -> String {
    // SEPA's Latin character set; anything else becomes a space, then XML-escaped.
    let allowed = |c: char| c.is_ascii_alphanumeric() || " /-?:().,'+".contains(c);
    let clean: String = s
        .chars()
        .map(|c| match c {
            'č' | 'ć' => 'c',
            'Č' | 'Ć' => 'C',
            'š' => 's',
            'Š' => 'S',
            'ž' => 'z',
            'Ž' => 'Z',
            'đ' => 'd',
            'Đ' => 'D',
            c if allowed(c) => c,
            _ => ' ',
        })
        .take(max)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "-".to_owned()
    } else {
        clean
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('\'', "&apos;")
    }
}

/// Writes the pain.001.001.09 document for a closed period.
pub fn write(s: &Summary, filename: String) -> Result<ReportFile, SepaError> {
    let closed = s.closed_at.ok_or(SepaError::NotClosed)?;
    let town = s.town_row.as_ref().ok_or(SepaError::NotClosed)?;
    let payees: Vec<_> = s
        .merchants
        .iter()
        .filter(|m| m.amounts.municipality > Decimal::ZERO)
        .collect();
    for m in &payees {
        if m.iban.as_deref().unwrap_or("").is_empty() {
            return Err(SepaError::NoIban(m.name.clone()));
        }
    }
    let total: Decimal = payees.iter().map(|m| m.amounts.municipality).sum();
    let msg_id = format!(
        "TC-{}-{}-{}",
        town.slug,
        s.period,
        &s.journal_digest.get(..8).unwrap_or("0")
    );
    let created = closed.format("%Y-%m-%dT%H:%M:%S").to_string();
    let exec = (closed + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let mut f = HashingFile::create()?;
    write!(
        f,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <CstmrCdtTrfInitn>
    <GrpHdr>
      <MsgId>{msg}</MsgId>
      <CreDtTm>{created}</CreDtTm>
      <NbOfTxs>{n}</NbOfTxs>
      <CtrlSum>{total}</CtrlSum>
      <InitgPty><Nm>{town}</Nm></InitgPty>
    </GrpHdr>
    <PmtInf>
      <PmtInfId>{msg}-1</PmtInfId>
      <PmtMtd>TRF</PmtMtd>
      <BtchBookg>true</BtchBookg>
      <NbOfTxs>{n}</NbOfTxs>
      <CtrlSum>{total}</CtrlSum>
      <PmtTpInf><SvcLvl><Cd>SEPA</Cd></SvcLvl></PmtTpInf>
      <ReqdExctnDt><Dt>{exec}</Dt></ReqdExctnDt>
      <Dbtr><Nm>{town}</Nm></Dbtr>
      <DbtrAcct><Id><IBAN>{iban}</IBAN></Id></DbtrAcct>
      <DbtrAgt><FinInstnId>{bic}</FinInstnId></DbtrAgt>
      <ChrgBr>SLEV</ChrgBr>
"#,
        msg = esc(&msg_id, 35),
        n = payees.len(),
        total = point(total),
        town = esc(&town.name, 70),
        iban = esc(&town.iban.replace(' ', ""), 34),
        bic = match &town.bic {
            Some(b) if !b.is_empty() => format!("<BICFI>{}</BICFI>", esc(b, 11)),
            _ => "<Othr><Id>NOTPROVIDED</Id></Othr>".to_owned(),
        },
    )?;
    for (i, m) in payees.iter().enumerate() {
        write!(
            f,
            r#"      <CdtTrfTxInf>
        <PmtId><EndToEndId>{e2e}</EndToEndId></PmtId>
        <Amt><InstdAmt Ccy="EUR">{amt}</InstdAmt></Amt>
        <Cdtr><Nm>{name}</Nm></Cdtr>
        <CdtrAcct><Id><IBAN>{iban}</IBAN></Id></CdtrAcct>
        <RmtInf><Ustrd>{memo}</Ustrd></RmtInf>
      </CdtTrfTxInf>
"#,
            e2e = esc(&format!("TC{}-{}", s.period.replace('-', ""), i + 1), 35),
            amt = point(m.amounts.municipality),
            name = esc(&m.name, 70),
            iban = esc(&m.iban.clone().unwrap_or_default().replace(' ', ""), 34),
            memo = esc(&format!("{} {} sofinanciranje", town.name, s.period), 140),
        )?;
    }
    f.write_all(b"    </PmtInf>\n  </CstmrCdtTrfInitn>\n</Document>\n")?;
    Ok(f.finish("application/xml", filename)?)
}
