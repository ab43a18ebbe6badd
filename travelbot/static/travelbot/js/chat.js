// The chat page: a websocket that streams answers token by token into the conversation.
(function () {
  "use strict";
  const chat = document.querySelector(".chat");
  if (!chat) return;
  const conversation = document.getElementById("conversation");
  const form = document.getElementById("composer");
  const input = document.getElementById("composer-message");
  const send = document.getElementById("send");
  const stop = document.getElementById("stop");
  const note = document.getElementById("composer-note");
  const connection = document.getElementById("connection");
  const template = document.getElementById("turn-template");
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  let conversationId = chat.dataset.conversationId || null;
  let socket = null;
  let current = null; // the turn element being answered
  let retry = 0;
  let interrupted = false;

  function setBusy(busy) {
    send.hidden = busy;
    stop.hidden = !busy;
    input.disabled = busy;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${chat.dataset.wsPath}`);
    connection.textContent = "connecting…";
    socket.addEventListener("open", () => {
      retry = 0;
      connection.textContent = "connected";
      connection.dataset.state = "up";
      if (interrupted) location.reload(); // the stored history shows the interrupted turn
    });
    socket.addEventListener("message", (event) => handle(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      connection.textContent = "reconnecting…";
      connection.dataset.state = "down";
      if (current) interrupted = true;
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 250 * 2 ** retry);
    });
  }

  function handle(frame) {
    if (frame.type === "error") {
      note.textContent = frame.message;
      if (current && !current.dataset.turnId) current.remove();
      finish();
      return;
    }
    if (!current) return;
    if (frame.type === "turn") {
      current.dataset.turnId = frame.turn_id;
      if (conversationId !== frame.conversation_id) {
        conversationId = frame.conversation_id;
        history.replaceState(null, "", `?c=${conversationId}`);
        listConversation(conversationId, current.querySelector(".turn__question").textContent);
      }
    } else if (frame.type === "context") {
      renderFacts(current, frame.facts);
      current.querySelector(".turn__state").textContent = "Writing…";
    } else if (frame.type === "token") {
      const answer = current.querySelector(".turn__answer");
      answer.classList.add("turn__answer--streaming");
      answer.textContent += frame.text;
      conversation.scrollTop = conversation.scrollHeight;
    } else if (frame.type === "done") {
      current.dataset.status = frame.status;
      const answer = current.querySelector(".turn__answer");
      answer.classList.remove("turn__answer--streaming");
      answer.innerHTML = frame.answer_html; // sanitised by the server
      const state = current.querySelector(".turn__state");
      state.textContent = frame.status === "stopped" ? "Stopped." : frame.status === "failed" ? frame.error : "";
      renderSources(current, frame.sources);
      current.querySelector(".turn__rating").hidden = frame.status === "failed";
      finish();
    }
  }

  function finish() {
    current = null;
    setBusy(false);
    input.focus();
  }

  // A new conversation joins the list at once, as the server would list it after a reload.
  function listConversation(id, title) {
    const list = document.querySelector(".conversations__list");
    list.querySelector(".muted")?.remove();
    list.querySelectorAll("[aria-current]").forEach((a) => a.removeAttribute("aria-current"));
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = `?c=${id}`;
    link.textContent = title.slice(0, 80);
    link.setAttribute("aria-current", "page");
    item.append(link);
    list.prepend(item);
  }

  function renderFacts(turn, facts) {
    const box = turn.querySelector(".turn__facts");
    box.replaceChildren();
    for (const fact of facts) {
      if (!fact.card) continue;
      const card = document.createElement("a");
      card.className = `fact fact--${fact.kind}`;
      card.href = fact.url;
      const title = document.createElement("strong");
      title.textContent = fact.title;
      card.append(title);
      for (const line of fact.lines) {
        const span = document.createElement("span");
        span.textContent = line;
        card.append(span);
      }
      const time = document.createElement("time");
      time.dateTime = fact.as_of;
      time.textContent = `as of ${fact.as_of.slice(11, 19)} UTC`;
      card.append(time);
      box.append(card);
    }
  }

  function renderSources(turn, sources) {
    const list = turn.querySelector(".turn__sources");
    list.replaceChildren();
    for (const source of sources) {
      if (source.kind !== "document") continue;
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = source.url;
      link.textContent = source.title;
      item.append(link);
      list.append(item);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const message = input.value.trim();
    if (!message || current) return;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      note.textContent = "Not connected yet: try again in a moment.";
      return;
    }
    note.textContent = "";
    document.getElementById("empty-state")?.remove();
    conversation.classList.add("chat__conversation--turns");
    current = template.content.firstElementChild.cloneNode(true);
    current.querySelector(".turn__question p").textContent = message;
    current.querySelector(".turn__state").textContent = "Looking up live data…";
    conversation.append(current);
    conversation.scrollTop = conversation.scrollHeight;
    // The traveller's own zone says what "tomorrow" means; left out when the browser does
    // not know it (ICU then says "Etc/Unknown"), and the server falls back to the profile's.
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const timeZone = zone && zone !== "Etc/Unknown" ? zone : undefined;
    socket.send(
      JSON.stringify({ type: "ask", message, conversation_id: conversationId, time_zone: timeZone }),
    );
    input.value = "";
    setBusy(true);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  stop.addEventListener("click", () => {
    if (socket && current) socket.send(JSON.stringify({ type: "stop", turn_id: current.dataset.turnId }));
  });

  conversation.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-rating]");
    if (!button) return;
    const turn = button.closest(".turn");
    const comment = turn.querySelector(".turn__comment").value.trim();
    const response = await fetch(`/api/chat/turns/${turn.dataset.turnId}/rating`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ rating: Number(button.dataset.rating), comment: comment || null }),
    });
    const status = turn.querySelector(".turn__rated");
    status.textContent = response.ok ? "Thanks for the feedback." : "Could not save the rating.";
    for (const b of turn.querySelectorAll("[data-rating]")) b.setAttribute("aria-pressed", b === button);
  });

  connect();
})();
