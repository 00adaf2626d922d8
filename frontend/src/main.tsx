import { render } from 'preact';
import { App } from './app';
import { initLanguage } from './i18n';
import { watchNetwork } from './lib/network';
import { loadMe } from './lib/session';
import { startRouter } from './router';
import './styles.css';

startRouter();
watchNetwork();
await initLanguage();
render(<App />, document.getElementById('app')!);
void loadMe();
