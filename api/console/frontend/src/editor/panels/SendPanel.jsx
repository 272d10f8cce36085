// A send step: channel, a template of that channel (from the catalog), a coupon template to issue with it, the
// category, and a live preview of the template in a locale the marketer picks, for a member or a placeholder one.
import { useEffect, useState } from "react";
import { sendJSON } from "../../shared/api.js";
import { Row, Select, TextInput, withValue } from "./fields.jsx";

const PREVIEW_DELAY_MS = 300;

function usePreview(body, locale, memberId) {
  const [shown, setShown] = useState(null);
  const { channel, template, coupon, category } = body;
  useEffect(() => {
    if (!channel || !template) {
      setShown(null);
      return undefined;
    }
    const request = { channel, template, locale, category: category ?? "marketing" };
    if (coupon) request.coupon = coupon;
    if (memberId.trim()) request.member_id = memberId.trim();
    let live = true;
    const timer = setTimeout(async () => {
      const answer = await sendJSON("POST", "/console/api/templates/preview", request);
      if (live) setShown(answer.ok ? { ...answer.data } : { error: answer.error });
    }, PREVIEW_DELAY_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [channel, template, coupon, category, locale, memberId]);
  return shown;
}

function Preview({ shown, channel }) {
  if (!shown) return <p className="mf-muted">Pick a template to see it rendered.</p>;
  if (shown.error) {
    const details = (shown.error.details ?? []).map((d) => d.message).join("; ");
    return <p className="mf-problem" role="alert">{shown.error.message}{details ? `: ${details}` : ""}</p>;
  }
  return (
    <div className="mf-preview" data-preview-locale={shown.locale}>
      {shown.subject && (
        <p className="mf-preview__subject">
          <b>Subject:</b> <span data-preview="subject">{shown.subject}</span>
        </p>
      )}
      {channel === "email" ? (
        <iframe title="Email preview" sandbox="" srcDoc={shown.body} className="mf-preview__frame" />
      ) : (
        <p className="mf-preview__sms" data-preview="sms">{shown.body}</p>
      )}
    </div>
  );
}

export function SendPanel({ body, onChange, at, catalog }) {
  const [locale, setLocale] = useState("en");
  const [memberId, setMemberId] = useState("");
  const shown = usePreview(body, locale, memberId);
  const templates = (catalog?.templates ?? []).filter((t) => t.channel === body.channel).map((t) => [t.name, t.name]);
  const coupons = (catalog?.coupon_templates ?? []).map((c) => [c.code, `${c.code} · ${c.name}`]);
  const set = (key) => (value) => onChange(withValue(body, key, value));
  return (
    <>
      <Row
        label="Channel"
        message={at("send.channel")}
        render={(invalid) => (
          <Select name="channel" value={body.channel} invalid={invalid} options={[["email", "Email"], ["sms", "SMS"]]} onChange={(v) => onChange({ ...withValue(body, "channel", v), template: undefined })} />
        )}
      />
      <Row label="Template" message={at("send.template")} render={(invalid) => <Select name="template" value={body.template} invalid={invalid} options={templates} onChange={set("template")} />} />
      <Row label="Coupon" message={at("send.coupon")} render={(invalid) => <Select name="coupon" value={body.coupon} invalid={invalid} options={coupons} empty="no coupon" onChange={set("coupon")} />} />
      <Row
        label="Category"
        message={at("send.category")}
        render={(invalid) => (
          <Select name="category" value={body.category ?? "marketing"} invalid={invalid} options={[["marketing", "marketing (consent, unsubscribe link)"], ["transactional", "transactional"]]} onChange={set("category")} />
        )}
      />
      <fieldset className="mf-preview-box">
        <legend>Preview</legend>
        <Row label="Preview locale" render={() => <Select name="preview_locale" value={locale} options={(catalog?.locales ?? ["en", "zh-CN"]).map((l) => [l, l])} onChange={(v) => setLocale(v ?? "en")} />} />
        <Row label="Sample member id" hint="blank: a placeholder member" render={() => <TextInput name="preview_member" value={memberId} onChange={setMemberId} placeholder="member id (optional)" />} />
        <Preview shown={shown} channel={body.channel} />
      </fieldset>
      <details className="mf-variables">
        <summary>What a template can print</summary>
        <ul>
          {(catalog?.template_variables ?? []).map((v) => (
            <li key={v.name}>
              <code>{`{{ ${v.name} }}`}</code> <span className="mf-muted">{v.label}</span>
            </li>
          ))}
        </ul>
      </details>
    </>
  );
}
