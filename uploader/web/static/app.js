// pixgate web pages: upload with progress, copy buttons, delete with the kept token.
// Plain script, no framework, no build step; loaded with `defer` under a strict CSP.
(() => {
  "use strict";

  const TOKEN_PREFIX = "pixgate:delete-token:";
  const API_KEY_ITEM = "pixgate:api-key";
  const IMAGE_ID = /^img_[A-Za-z0-9]{20}$/;
  // What the server accepts (it decides by content; this only spares a pointless upload).
  const ACCEPTED_TYPES = new Set([
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/heic",
    "image/heif",
  ]);
  const STATUS_PREFIXES = {
    401: "The API key was refused: ",
    413: "Too large: ",
    415: "Not an accepted image: ",
    422: "The image could not be read: ",
    429: "Too many uploads: ",
  };

  // localStorage may be unavailable (privacy modes): then nothing is kept, nothing breaks.
  const store = {
    get(key) {
      try {
        return window.localStorage.getItem(key);
      } catch {
        return null;
      }
    },
    set(key, value) {
      try {
        window.localStorage.setItem(key, value);
      } catch {
        // Not kept; the page still works.
      }
    },
    remove(key) {
      try {
        window.localStorage.removeItem(key);
      } catch {
        // Nothing to remove.
      }
    },
  };

  function formatBytes(bytes) {
    if (bytes < 1024) return `${bytes} bytes`;
    const units = ["KB", "MB", "GB"];
    let value = bytes / 1024;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    const digits = value >= 10 || Number.isInteger(value) ? 0 : 1;
    return `${value.toFixed(digits)} ${units[unit]}`;
  }

  // The server's own words from its JSON error body, with a short lead-in by status.
  function serverMessage(status, bodyText, retryAfter) {
    let message = "";
    try {
      message = JSON.parse(bodyText).error.message || "";
    } catch {
      message = "";
    }
    if (!message) message = `the server answered ${status || "nothing"}`;
    let text = (STATUS_PREFIXES[status] || "The upload failed: ") + message;
    if (status === 429 && retryAfter) text += ` Try again in ${retryAfter} s.`;
    return text;
  }

  function showError(element, text) {
    element.textContent = text;
    element.hidden = !text;
  }

  // --- upload page -----------------------------------------------------------------------

  function setupUpload(form) {
    const maxBytes = Number(form.dataset.maxBytes);
    const fileInput = form.querySelector("#file");
    const titleInput = form.querySelector("#title");
    const keyInput = form.querySelector("#api-key");
    const dropzone = form.querySelector("#dropzone");
    const preview = form.querySelector("#preview");
    const progressRow = form.querySelector("#progress-row");
    const progress = form.querySelector("#progress");
    const status = form.querySelector("#status");
    const error = form.querySelector("#error");
    let busy = false;

    if (keyInput) {
      keyInput.value = store.get(API_KEY_ITEM) || "";
      keyInput.addEventListener("change", () => store.set(API_KEY_ITEM, keyInput.value.trim()));
    }

    function refuse(text) {
      status.textContent = "";
      clearPreview();
      showError(error, text);
    }

    function check(file) {
      const name = file.name ? `"${file.name}"` : "The pasted file";
      if (file.type && !ACCEPTED_TYPES.has(file.type)) {
        return `${name} is not an image pixgate accepts (${file.type}). Choose a JPEG, PNG, GIF, WebP or AVIF file.`;
      }
      if (file.size === 0) return `${name} is empty.`;
      if (file.size > maxBytes) {
        return `${name} is ${formatBytes(file.size)}; the largest upload is ${formatBytes(maxBytes)}.`;
      }
      if (keyInput && !keyInput.value.trim()) return "Enter your API key first.";
      return "";
    }

    function setBusy(value) {
      busy = value;
      form.classList.toggle("is-busy", value);
      fileInput.disabled = value;
      form.setAttribute("aria-busy", String(value));
    }

    function showPreview(file) {
      clearPreview();
      preview.src = URL.createObjectURL(file);
      preview.hidden = false;
      dropzone.classList.add("has-preview");
    }

    function clearPreview() {
      if (preview.src) URL.revokeObjectURL(preview.src);
      preview.removeAttribute("src");
      preview.hidden = true;
      dropzone.classList.remove("has-preview");
    }

    function upload(file) {
      if (busy || !file) return;
      showError(error, "");
      const problem = check(file);
      if (problem) {
        refuse(problem);
        if (keyInput && problem.startsWith("Enter")) keyInput.focus();
        return;
      }
      showPreview(file);
      const body = new FormData();
      body.append("image", file, file.name || "pasted-image");
      if (titleInput.value.trim()) body.append("title", titleInput.value.trim());

      const request = new XMLHttpRequest();
      request.open("POST", form.getAttribute("action"));
      request.setRequestHeader("Accept", "application/json");
      if (keyInput) {
        const key = keyInput.value.trim();
        store.set(API_KEY_ITEM, key);
        request.setRequestHeader("Authorization", `Bearer ${key}`);
      }
      request.upload.addEventListener("progress", (event) => {
        if (!event.lengthComputable) return;
        const percent = Math.round((event.loaded / event.total) * 100);
        progress.value = percent;
        status.textContent = `Uploading… ${percent}%`;
      });
      request.upload.addEventListener("load", () => {
        progress.value = 100;
        status.textContent = "Checking the image…";
      });
      request.addEventListener("load", () => {
        if (request.status === 200 || request.status === 201) {
          let answer = null;
          try {
            answer = JSON.parse(request.responseText);
          } catch {
            answer = null;
          }
          if (answer && IMAGE_ID.test(answer.image_id)) {
            if (answer.delete_token) store.set(TOKEN_PREFIX + answer.image_id, answer.delete_token);
            status.textContent = "Done. Opening the image…";
            window.location.assign(`/v/${answer.image_id}`);
            return;
          }
        }
        setBusy(false);
        progressRow.hidden = true;
        refuse(
          serverMessage(
            request.status,
            request.responseText,
            request.getResponseHeader("Retry-After"),
          ),
        );
        if (request.status === 401 && keyInput) keyInput.focus();
      });
      request.addEventListener("error", () => {
        setBusy(false);
        progressRow.hidden = true;
        refuse("The upload failed: the connection to the server was lost. Try again.");
      });
      setBusy(true);
      progress.value = 0;
      progressRow.hidden = false;
      status.textContent = "Uploading…";
      request.send(body);
    }

    fileInput.addEventListener("change", () => {
      const file = fileInput.files && fileInput.files[0];
      upload(file);
      fileInput.value = "";
    });

    for (const type of ["dragenter", "dragover"]) {
      dropzone.addEventListener(type, (event) => {
        event.preventDefault();
        dropzone.classList.add("is-dragging");
      });
    }
    dropzone.addEventListener("dragleave", (event) => {
      if (!dropzone.contains(event.relatedTarget)) dropzone.classList.remove("is-dragging");
    });
    dropzone.addEventListener("drop", (event) => {
      event.preventDefault();
      dropzone.classList.remove("is-dragging");
      const files = event.dataTransfer && event.dataTransfer.files;
      if (files && files.length) upload(files[0]);
    });
    // A file dropped next to the zone must not replace the page with the file itself.
    for (const type of ["dragover", "drop"]) {
      document.addEventListener(type, (event) => event.preventDefault());
    }

    document.addEventListener("paste", (event) => {
      const files = event.clipboardData ? Array.from(event.clipboardData.files) : [];
      if (!files.length) return; // plain text pastes into the title as usual
      event.preventDefault();
      upload(files[0]);
    });
  }

  // --- image page ------------------------------------------------------------------------

  function setupPlaceholder(frame) {
    const photo = frame.querySelector(".photo");
    const loaded = () => frame.classList.add("is-loaded");
    if (photo.complete && photo.naturalWidth) loaded();
    else photo.addEventListener("load", loaded, { once: true });
  }

  function copyText(source) {
    const text = source.value;
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(() => legacyCopy(source));
    }
    return legacyCopy(source);
  }

  // Plain-HTTP sites have no navigator.clipboard; a selected field and execCommand still work.
  function legacyCopy(source) {
    source.focus();
    source.select();
    const copied = document.execCommand && document.execCommand("copy");
    return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function setupCopyButtons(root, announce) {
    for (const source of root.querySelectorAll(".copy-source")) {
      source.addEventListener("focus", () => source.select());
    }
    for (const button of root.querySelectorAll("button[data-copy]")) {
      const label = button.firstChild;
      button.addEventListener("click", () => {
        const source = document.getElementById(button.dataset.copy);
        if (!source) return;
        copyText(source).then(
          () => {
            label.textContent = "Copied";
            button.classList.add("is-copied");
            announce("Copied to the clipboard.");
            window.setTimeout(() => {
              label.textContent = "Copy";
              button.classList.remove("is-copied");
            }, 1800);
          },
          () => {
            source.focus();
            source.select();
            announce("Could not copy: the text is selected, press Ctrl+C.");
          },
        );
      });
    }
  }

  function setupDelete(page, announce) {
    const imageId = page.dataset.imageId;
    const token = store.get(TOKEN_PREFIX + imageId);
    const actions = page.querySelector("#owner-actions");
    const button = page.querySelector("#delete-button");
    const error = page.querySelector("#action-error");
    if (!token || !actions || !button) return;
    actions.hidden = false;

    button.addEventListener("click", async () => {
      if (!window.confirm("Delete this image? Its page and links stop working.")) return;
      button.disabled = true;
      showError(error, "");
      let response;
      try {
        response = await fetch(`/api/v1/images/${encodeURIComponent(imageId)}`, {
          method: "DELETE",
          headers: { "X-Delete-Token": token, Accept: "application/json" },
        });
      } catch {
        button.disabled = false;
        showError(error, "The delete failed: the connection to the server was lost. Try again.");
        return;
      }
      // 404: already gone, which is what was asked for.
      if (response.status === 204 || response.status === 404) {
        store.remove(TOKEN_PREFIX + imageId);
        page.querySelector("#image-content").hidden = true;
        const notice = page.querySelector("#deleted-notice");
        notice.hidden = false;
        document.title = "Image deleted · pixgate";
        announce("The image was deleted.");
        notice.querySelector("a").focus();
        return;
      }
      button.disabled = false;
      const text = await response.text();
      let message = "";
      try {
        message = JSON.parse(text).error.message;
      } catch {
        message = `the server answered ${response.status}`;
      }
      showError(error, `The image was not deleted: ${message}`);
    });
  }

  function setupImagePage(page) {
    const status = page.querySelector("#page-status");
    const announce = (text) => {
      status.textContent = text;
    };
    const frame = page.querySelector("#frame");
    if (frame) setupPlaceholder(frame);
    setupCopyButtons(page, announce);
    setupDelete(page, announce);
  }

  const form = document.getElementById("upload-form");
  if (form) setupUpload(form);
  const page = document.getElementById("image-page");
  if (page) setupImagePage(page);
})();
