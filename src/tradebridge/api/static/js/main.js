/** Entry point: theme and language, then the login form or, with a live session, the
 * trading screen. */

import { TradingApp } from './app.js';
import { $ } from './dom.js';
import { currentLang, setLang, t, translatePage } from './i18n.js';
import { setupLogin, showLogin } from './panels/login.js';
import { sessionOf, storeToken, storedSession } from './session.js';
import { setupTheme } from './theme.js';

setupTheme($('#theme-toggle'));
translatePage();
$('#lang-toggle').addEventListener('click', () => setLang(currentLang() === 'zh' ? 'en' : 'zh'));

const app = new TradingApp({ onSignedOut: (reason) => showLogin(reason) });

setupLogin((token) => {
  const session = sessionOf(token);
  if (!session) {
    showLogin(t('login.failed'));
    return;
  }
  storeToken(token);
  app.start(session);
});

const session = storedSession();
if (session) app.start(session);
else showLogin();
