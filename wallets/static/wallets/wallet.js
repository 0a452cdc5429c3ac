// The wallet page: forms post to the JSON API (session + CSRF + Idempotency-Key),
// and an EventSource shows each notification as a toast and updates the balance and the transactions.
// Its own words come from the server in the page's language (#page-texts); times are shown in KST.
(function () {
  "use strict";

  const T = JSON.parse(document.getElementById("page-texts").textContent);
  const say = (text, values) => text.replace(/%\((\w+)\)s/g, (_, name) => String(values[name]));
  const won = (n) => "₩" + Number(n).toLocaleString("ko-KR");
  const seen = new Set(Array.from(document.querySelectorAll("#notifications [data-event-id]"),
                                  (li) => li.dataset.eventId));

  function cookie(name) {
    const match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  function setBalance(amount) {
    const el = document.getElementById("balance");
    el.dataset.balance = amount;
    el.textContent = won(amount);
  }

  function toast(title, message, type) {
    const box = document.createElement("div");
    box.className = "toast " + (type || "info");
    box.setAttribute("role", "status");
    const strong = document.createElement("strong");
    strong.textContent = title;
    const text = document.createElement("span");
    text.textContent = message;
    box.append(strong, text);
    document.getElementById("toasts").append(box);
    setTimeout(() => box.classList.add("leaving"), 5000);
    setTimeout(() => box.remove(), 5600);
  }

  function setUnread(count) {
    const badge = document.getElementById("unread-count");
    badge.dataset.count = count;
    badge.textContent = say(T.unread, {count: count});
    badge.hidden = count === 0;
    document.getElementById("mark-read").hidden = count === 0;
  }

  function addNotification(n) {
    const list = document.getElementById("notifications");
    list.querySelector(".empty")?.remove();
    const li = document.createElement("li");
    li.className = n.type + " unread";
    li.dataset.eventId = n.eventId;
    const strong = document.createElement("strong");
    strong.textContent = n.title;
    li.append(strong, " " + n.message);
    list.prepend(li);
  }

  // A time as the server writes it: Korean time (Asia/Seoul), whatever the browser's zone.
  const KST = new Intl.DateTimeFormat("en-CA", {timeZone: "Asia/Seoul", hourCycle: "h23", year: "numeric",
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit"});
  function stamp(iso) {
    const p = Object.fromEntries(KST.formatToParts(new Date(iso)).map((part) => [part.type, part.value]));
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  }
  const kind = (type) => T.kinds[type] || type;

  function addReversible(t) {
    if (t.type === "REVERSAL" || t.type === "TRANSFER") return;  // a transfer is final for its sender
    const select = document.querySelector("#reverse-form select[name=transactionId]");
    select.querySelector("option[disabled]")?.remove();
    const option = document.createElement("option");
    option.value = t.transactionId;
    option.textContent = `${kind(t.type)} ${won(t.amount)} · ${stamp(t.createdAt).slice(5, 16)}`;
    select.prepend(option);
    select.value = t.transactionId;
  }

  function transactionRow(t) {
    const row = document.createElement("tr");
    row.dataset.transactionId = t.transactionId;
    let note = t.description || t.orderId || "";
    if (t.counterparty) note = say(t.direction === "in" ? T.from : T.to, {name: t.counterparty}) + (t.description ? ": " + t.description : "");
    const tag = document.createElement("span");
    tag.className = "tag " + t.type.toLowerCase();
    tag.textContent = kind(t.type);
    [stamp(t.createdAt), tag, won(t.amount), won(t.balanceAfter ?? t.newBalance), note].forEach((value, i) => {
      const td = document.createElement("td");
      td.append(value);
      if (i === 2 || i === 3) td.className = "num";
      row.append(td);
    });
    return row;
  }

  function addTransaction(t) {
    const body = document.getElementById("transactions");
    if (body.querySelector(`tr[data-transaction-id="${t.transactionId}"]`)) return;
    body.querySelector(".empty")?.remove();
    body.prepend(transactionRow(t));
  }

  // A notification may be of an operation made elsewhere (another browser, the API, a transfer in): the
  // table is read again, its newest page, and the rows it does not show yet are added in order.
  let refreshing = null;
  async function refreshTransactions() {
    if (refreshing) return refreshing;
    refreshing = (async () => {
      try {
        const response = await fetch("/api/v1/wallet/transactions?pageSize=20", {credentials: "same-origin"});
        if (!response.ok) return;
        const page = await response.json();
        page.results.slice().reverse().forEach(addTransaction);
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  // --- Forms -------------------------------------------------------------------
  function bodyOf(form) {
    const data = {};
    for (const [name, value] of new FormData(form)) {
      if (value === "") continue;
      data[name] = name === "amount" ? Number(value) : value;
    }
    return data;
  }

  // A charge is an order first; then the checkout (Toss's widget, or the sandbox's page) takes the
  // payment and sends the browser back to the order's successUrl, where the server confirms it.
  async function checkout(order) {
    if (order.gateway !== "toss") {
      window.location.assign(order.checkoutUrl);
      return;
    }
    await new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "https://js.tosspayments.com/v2/standard";
      script.onload = resolve;
      script.onerror = () => reject(new Error(T.checkoutUnavailable));
      document.head.append(script);
    });
    const payment = window.TossPayments(order.clientKey).payment({customerKey: order.customerKey});
    await payment.requestPayment({
      method: "CARD",
      amount: {currency: order.currency, value: order.amount},
      orderId: order.orderId,
      orderName: order.orderName,
      successUrl: order.successUrl,
      failUrl: order.failUrl,
    });
  }

  document.querySelectorAll("form[data-endpoint]").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = form.querySelector(".form-error");
      const button = form.querySelector("button");
      error.textContent = "";
      button.disabled = true;
      try {
        const response = await fetch(form.dataset.endpoint, {
          method: "POST",
          credentials: "same-origin",
          headers: {"Content-Type": "application/json", "X-CSRFToken": cookie("csrftoken"),
                    "Idempotency-Key": newKey()},
          body: JSON.stringify(bodyOf(form)),
        });
        const data = await response.json();
        if (!response.ok) {
          error.textContent = data.message || say(T.error, {status: response.status});
          return;
        }
        if (form.id === "charge-form") {
          await checkout(data);
          return;
        }
        setBalance(data.newBalance);
        addTransaction(data);
        addReversible(data);
        form.reset();
      } catch (e) {
        error.textContent = say(T.networkError, {error: e.message});
      } finally {
        button.disabled = false;
      }
    });
  });

  // Channels beyond the browser (the page lists the registry's), for every event type of the
  // event contract (the server renders them into #event-types).
  const preferences = document.getElementById("preferences-form");
  preferences.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = preferences.querySelector("p.form-error[role=alert]");
    const all = JSON.parse(document.getElementById("event-types").textContent);
    const body = {};
    preferences.querySelectorAll("input[data-channel]").forEach((box) => {
      body[box.name] = {enabled: box.checked, eventTypes: all};
    });
    if (preferences.elements.webhookUrl.value) body.slack.webhookUrl = preferences.elements.webhookUrl.value;
    error.textContent = "";
    const response = await fetch(preferences.dataset.preferences, {
      method: "PUT",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": cookie("csrftoken")},
      body: JSON.stringify(body),
    });
    const data = await response.json();
    error.textContent = response.ok ? T.saved : (data.message || say(T.error, {status: response.status}));
    if (response.ok) preferences.elements.webhookUrl.value = "";
  });

  document.getElementById("mark-read").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    const unread = Array.from(document.querySelectorAll("#notifications li.unread"));
    if (unread.length === 0) return;
    button.disabled = true;
    try {
      const response = await fetch(button.dataset.endpoint, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": cookie("csrftoken")},
        body: JSON.stringify({eventIds: unread.map((li) => li.dataset.eventId)}),
      });
      if (response.ok) {
        unread.forEach((li) => li.classList.remove("unread"));
        setUnread((await response.json()).unreadCount);
      }
    } finally {
      button.disabled = false;
    }
  });

  // --- Live notifications ----------------------------------------------------------
  const status = document.getElementById("stream-status");
  // The browser reconnects by itself after a drop and sends Last-Event-ID: nothing is missed. But an
  // EventSource whose reconnection is answered with an error (the platform restarting: the proxy's
  // 502, a 503) closes for good; the page then opens a new one itself, from the last event it showed.
  let lastEventId = window.PREPAID.lastEventId;
  let retryMs = 1000;
  // A stream's ids are "<channel>:<n>", n counting its events 1, 2, 3, ...: a jump means events were
  // stored but not pushed to this stream (its subscription raced a proxy restart). The page then
  // reads them from storage: it reopens the stream from the last event it showed.
  const seqOf = (id) => { const m = /:(\d+)$/.exec(id || ""); return m ? Number(m[1]) : null; };
  const connect = () => {
    const url = window.PREPAID.sseUrl + "?lastEventId=" + encodeURIComponent(lastEventId);
    const source = new EventSource(url, {withCredentials: true});
    source.addEventListener("stream-open", () => {
      retryMs = 1000;
      status.textContent = T.live;
      status.className = "live";
    });
    source.addEventListener("notification", (event) => {
      const seq = seqOf(event.lastEventId), last = seqOf(lastEventId);
      if (seq !== null && last !== null && seq > last + 1) {
        source.close();
        connect();
        return;
      }
      if (event.lastEventId) lastEventId = event.lastEventId;
      const n = JSON.parse(event.data);
      if (seen.has(n.eventId)) return;  // belt and braces: never show one event twice
      seen.add(n.eventId);
      toast(n.title, n.message, n.type);
      if (n.balance !== null && n.balance !== undefined) setBalance(n.balance);
      addNotification(n);
      setUnread(Number(document.getElementById("unread-count").dataset.count) + 1);
      refreshTransactions();
    });
    source.addEventListener("stream-error", (event) => {
      status.textContent = say(T.streamError, {error: event.data});
      status.className = "error";
    });
    source.onerror = () => {
      status.className = "muted";
      if (source.readyState !== EventSource.CLOSED) {
        status.textContent = T.reconnecting;
        return;
      }
      status.textContent = say(T.reconnectingIn, {seconds: Math.round(retryMs / 1000)});
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    };
  };
  connect();
})();
