// The scheduler opens in its own tab at the link the app builds from its configuration for
// this call and patient: to book, or to move or cancel a future appointment.
import { enc, get, query } from "./api.js";

/** The configuration has no scheduler link for this action. */
export class NoLink extends Error {}

/** ``action``: book, move or cancel (these two name the booking). */
export async function openScheduler(callId, patient, action, bookingId) {
  // The tab opens now, inside the click, or a popup blocker refuses it once the link has come.
  const tab = window.open("", "_blank");
  try {
    const links = await get(`/api/calls/${enc(callId)}/scheduler${query({ patient })}`);
    const url = pickLink(links, action, bookingId);
    if (!url) throw new NoLink();
    if (tab) {
      tab.opener = null;
      tab.location.href = url;
    } else {
      window.location.assign(url);
    }
  } catch (e) {
    if (tab) tab.close();
    throw e;
  }
}

function pickLink(links, action, bookingId) {
  if (action === "book") return links.book || links.book_url || links.url;
  const per = (links.appointments || []).find((a) => String(a.booking_id) === String(bookingId));
  return per ? per[action] || per[`${action}_url`] : null;
}
