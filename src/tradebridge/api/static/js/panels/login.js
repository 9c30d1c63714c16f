/** The login form: username and password for a token from `POST auth/token`. */

import { requestToken } from '../api.js';
import { $ } from '../dom.js';
import { describeError } from '../errors.js';
import { t } from '../i18n.js';

export function setupLogin(onToken) {
  const form = $('#login-form');
  const error = $('#login-error');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const username = form.elements.username.value.trim();
    const password = form.elements.password.value;
    if (!username || !password) {
      error.textContent = t('login.missing');
      return;
    }
    error.textContent = '';
    form.querySelector('button').disabled = true;
    try {
      const answer = await requestToken(username, password);
      form.elements.password.value = '';
      onToken(answer.access_token);
    } catch (failure) {
      if (failure.status === 401) error.textContent = t('login.wrong');
      else if (failure.status === 429) error.textContent = t('login.throttled');
      else error.textContent = describeError(failure);
    } finally {
      form.querySelector('button').disabled = false;
    }
  });
}

/** Show the form (with a reason, e.g. "session expired"). */
export function showLogin(reason = '') {
  $('#trade-view').hidden = true;
  $('#session-bar').hidden = true;
  $('#login-view').hidden = false;
  $('#login-error').textContent = reason;
  $('#login-username').focus();
}
