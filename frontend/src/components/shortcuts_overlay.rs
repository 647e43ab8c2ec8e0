//! The `?` overlay: every keyboard shortcut from the one table ([`crate::logic::shortcuts`]), with where it works.

use yew::prelude::*;

use crate::logic::shortcuts::{Page, SHORTCUTS};

#[derive(Properties, PartialEq)]
pub struct ShortcutsOverlayProps {
    pub on_close: Callback<()>,
}

#[function_component(ShortcutsOverlay)]
pub fn shortcuts_overlay(props: &ShortcutsOverlayProps) -> Html {
    let close = {
        let on_close = props.on_close.clone();
        Callback::from(move |_: MouseEvent| on_close.emit(()))
    };
    html! {
        <div class="dialog-backdrop" role="dialog" aria-modal="true" aria-label="Keyboard shortcuts">
            <div class="dialog shortcuts-overlay">
                <div class="page-head">
                    <h2>{ "Keyboard shortcuts" }</h2>
                    <button class="close-overlay" onclick={close}>{ "Close" }</button>
                </div>
                <table class="shortcuts-table">
                    <tbody>
                    { for SHORTCUTS.iter().map(|shortcut| html! {
                        <tr data-keys={shortcut.keys}>
                            <td><kbd>{ shortcut.keys }</kbd></td>
                            <td>{ shortcut.description }</td>
                            <td class="muted">{ match shortcut.on {
                                Page::Playground => "Playground",
                                Page::Compose => "Compose",
                                Page::Containers => "Containers",
                                Page::Any => "every page",
                            } }</td>
                        </tr>
                    }) }
                    </tbody>
                </table>
            </div>
        </div>
    }
}
