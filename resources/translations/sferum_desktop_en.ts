<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en_GB" sourcelanguage="ru_RU">
<context>
    <name>AboutDialog</name>
    <message>
        <location filename="../../sferum_desktop/ui/about.py" line="78"/>
        <source>О программе</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/about.py" line="93"/>
        <source>Версия %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/about.py" line="96"/>
        <source>Чаты Сферума школы по данным электронной школы (ЭШ).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/about.py" line="99"/>
        <source>Qt %1 · PySide6 %2 · Python %3</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/about.py" line="108"/>
        <source>Лицензия программы: GNU GPL версии 3 или более поздней (%1). Программа распространяется без каких-либо гарантий.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/about.py" line="156"/>
        <source>Скопировать сведения</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/about.py" line="159"/>
        <source>Версии программы, Qt, Python и системы — для обращения в поддержку</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/about.py" line="170"/>
        <source>Компоненты в составе программы:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/about.py" line="184"/>
        <source>Qt и Qt for Python (PySide6, shiboken6) используются по лицензии GNU LGPL версии 3. Они входят в программу без изменений, отдельными динамическими библиотеками в её папке (без статической компоновки), поэтому их можно заменить своей сборкой той же версии. Исходный код Qt: %1, PySide6: %2. Исходный код самой программы распространяется вместе с ней или по запросу на условиях GNU GPL версии 3 или более поздней. Полные тексты GNU LGPL v3 и GNU GPL v3 — в строке «Qt» списка ниже.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/about.py" line="200"/>
        <source>Компонент</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/about.py" line="200"/>
        <source>Версия</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/about.py" line="200"/>
        <source>Лицензия</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/about.py" line="220"/>
        <source>см. текст лицензии</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/about.py" line="246"/>
        <source>Текст лицензии этого компонента не входит в поставку. Условия: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/about.py" line="257"/>
        <source>ОС: %1 (%2)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/about.py" line="266"/>
        <source>Сведения скопированы</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>AuditView</name>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="104"/>
        <source>создан чат в реестре</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="105"/>
        <source>создан чат в Сферуме</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="106"/>
        <source>добавлен в реестр</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="107"/>
        <source>удалён из реестра</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="108"/>
        <source>добавлен в Сферум</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="109"/>
        <source>удалён из Сферума</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="204"/>
        <source>Когда</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="205"/>
        <source>Действие</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="206"/>
        <source>Чат</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="207"/>
        <source>Участник</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="208"/>
        <source>Причина</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="209"/>
        <source>Кто</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="221"/>
        <source>Поиск по чату или участнику</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="230"/>
        <source>Обновить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="231"/>
        <source>Экспорт…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="233"/>
        <source>Чат:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="237"/>
        <source>Период: с</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="239"/>
        <source>по</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="278"/>
        <source>Журнал недоступен: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="286"/>
        <source>Все чаты</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="325"/>
        <source>автоматическая синхронизация</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="327"/>
        <source>пользователь %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="338"/>
        <source>Записей: %1 из %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="353"/>
        <source>Экспорт журнала</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="355"/>
        <source>Книга Excel (*.xlsx);;CSV (*.csv)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="362"/>
        <source>Не удалось сохранить файл: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="364"/>
        <source>Сохранено записей: %1</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>AuthWebView</name>
    <message>
        <location filename="../../sferum_desktop/ui/webauth.py" line="182"/>
        <source>Страница входа не загрузилась. Проверьте подключение к интернету.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Banner</name>
    <message>
        <location filename="../../sferum_desktop/ui/common.py" line="110"/>
        <source>Повторить</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>CallsModel</name>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="159"/>
        <source>Видеоконференция</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="159"/>
        <source>Начата</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>CandidateModel</name>
    <message>
        <location filename="../../sferum_desktop/ui/person_picker.py" line="93"/>
        <source>Сотрудник</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/person_picker.py" line="94"/>
        <source>Ученик</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/person_picker.py" line="95"/>
        <source>Родитель</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/person_picker.py" line="97"/>
        <source>Ф.И.О.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/person_picker.py" line="97"/>
        <source>Роль</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/person_picker.py" line="97"/>
        <source>Класс</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>CaptchaDialog</name>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="160"/>
        <source>Подтвердите, что вы не робот</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="162"/>
        <source>Введите код с картинки:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="163"/>
        <source>Загрузка картинки…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="172"/>
        <source>Продолжить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="173"/>
        <source>Отмена</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="184"/>
        <source>Картинку не удалось загрузить.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ChatDialog</name>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="202"/>
        <source>Чат школы в сферум: Добавление</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="204"/>
        <source>Чат школы в сферум: Редактирование</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="223"/>
        <source>Учительский чат</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="224"/>
        <source>Классный чат</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="225"/>
        <source>Родительский чат</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="226"/>
        <source>Предмет</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="227"/>
        <source>Другой</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="247"/>
        <source>Тип чата</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="248"/>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="563"/>
        <source>Наименование чата</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="250"/>
        <source>Предмет/Группа (Класс)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="256"/>
        <source>Сотрудники</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="257"/>
        <source>Ученики</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="258"/>
        <source>Родители</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="273"/>
        <source>Внимание!</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="284"/>
        <source>Сохранить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="287"/>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="593"/>
        <source>Отмена</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="454"/>
        <source>Следующие пользователи не связали аккаунт со Сферумом и не будут добавлены в качестве участника в чате Сферума:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="458"/>
        <source>Пользователи будут автоматически добавлены в чат Сферума после связывания аккаунта.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="465"/>
        <source>Выберите предмет и группу.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="468"/>
        <source>Введите наименование чата.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="561"/>
        <source>Чат изменил другой пользователь. Сейчас на сервере:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="564"/>
        <source>Администратор чата</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="565"/>
        <source>Количество участников</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="566"/>
        <source>Статус</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="574"/>
        <source> (было: {0})</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="579"/>
        <source>«Загрузить заново» покажет чат как он есть сейчас (ваши изменения будут потеряны); «Перезаписать» сохранит ваши изменения поверх.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="589"/>
        <source>Чат изменён</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="591"/>
        <source>Загрузить заново</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="592"/>
        <source>Перезаписать</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ChatsModel</name>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="115"/>
        <source>Чат</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="116"/>
        <source>Последнее сообщение</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="117"/>
        <source>Время</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="118"/>
        <source>Непрочитанные</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="132"/>
        <source>Вы: </source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ChatsTab</name>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="108"/>
        <source>Добавить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="109"/>
        <source>Изменить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="113"/>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="441"/>
        <source>Удалить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="114"/>
        <source>Обновить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="116"/>
        <source>Сменить администратора…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="119"/>
        <source>Экспорт выбранных…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="122"/>
        <source>Экспорт реестра…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="142"/>
        <source>Поиск: наименование, администратор, предмет</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="151"/>
        <source>Все типы</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="156"/>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="284"/>
        <source>Все классы</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="164"/>
        <source>Тип:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="166"/>
        <source>Класс:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="253"/>
        <source>Автоматические чаты (учительский, классный, родительский) создаются и удаляются автоматически; удалить их нельзя.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="257"/>
        <source>Удалить выбранные чаты (Delete)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="270"/>
        <source>Обновление…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="327"/>
        <source>Показаны сохранённые данные.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="412"/>
        <source>Чаты</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="420"/>
        <source>Отмена</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="426"/>
        <source>Закрыть</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="440"/>
        <source>Удалить чаты ({0})?
{1}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="453"/>
        <source>автоматический чат класса или школы удаляется только вместе с классом (школой)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="458"/>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="460"/>
        <source>«{0}»: не удалён — {1}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="463"/>
        <source>«{0}»: удалён</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="487"/>
        <source>Администратор чата</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="509"/>
        <source>«{0}»: не изменён — {1}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="516"/>
        <source>«{0}»: администратор {1}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="548"/>
        <source>Экспорт</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="550"/>
        <source>Книга Excel (*.xlsx);;CSV для Excel (*.csv)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="570"/>
        <source>Файл не записан: {0}</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>EsiaDialog</name>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="66"/>
        <source>Войти через госуслуги</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="71"/>
        <source>Выполняется вход…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="76"/>
        <source>Отмена</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>LinkingDialog</name>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="201"/>
        <source>Войти через браузер</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="204"/>
        <source>Открыть вход VK ID в системном браузере, если здесь он не открывается</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="221"/>
        <source>Вернуться ко входу в окне</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="244"/>
        <source>Начать заново</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="247"/>
        <location filename="../../sferum_desktop/ui/linking.py" line="428"/>
        <source>Готово</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="267"/>
        <source>Отмена</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="301"/>
        <source>Учебная среда</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="302"/>
        <source>Номера VK ID из руководства:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="304"/>
        <source>без пароля</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="315"/>
        <source>СМС пока не было.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="334"/>
        <source>Последнее СМС на %1:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="343"/>
        <source>Проверяем вход в VK ID…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="353"/>
        <source>Войдите в VK ID в открывшемся окне браузера. После входа браузер покажет «Можно вернуться в приложение» — тогда вернитесь сюда.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="377"/>
        <source>Вход в VK ID не выполнен</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="405"/>
        <source>Аккаунт привязан к Сферуму</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="407"/>
        <source>Аккаунт ЭШ связан с учебным профилем VK ID. Чаты и видеоконференции — на вкладке «Сферум».</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="428"/>
        <source>Закрыть</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="171"/>
        <source>Sferum Desktop — ЭШ</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="186"/>
        <source>Главная</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="187"/>
        <location filename="../../sferum_desktop/ui/main_window.py" line="221"/>
        <location filename="../../sferum_desktop/ui/main_window.py" line="269"/>
        <source>Сферум</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="189"/>
        <source>Реестр «Сферум»</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="191"/>
        <source>Синхронизация</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="206"/>
        <source>Учебная среда: данные вымышлены</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="214"/>
        <source>Учётная запись</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="215"/>
        <source>Выйти</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="217"/>
        <source>Ctrl+Shift+Q</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="222"/>
        <location filename="../../sferum_desktop/ui/main_window.py" line="304"/>
        <source>Авторизация в Сферум</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="226"/>
        <source>Чаты и видеоконференции</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="229"/>
        <source>Обновить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="234"/>
        <source>Справка</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="235"/>
        <source>О программе</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="302"/>
        <source>Привязать аккаунт к Сферум</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>MemberTable</name>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="110"/>
        <source>Добавить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="111"/>
        <source>Удалить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="112"/>
        <source>Обновить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="118"/>
        <source>Ф.И.О.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="118"/>
        <source>Заблокирован</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="118"/>
        <source>Связь со Сферумом</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="140"/>
        <source>Да</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="140"/>
        <source>Нет</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="148"/>
        <source>Связан</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/chat_dialog.py" line="148"/>
        <source>Не связан</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>PersonPicker</name>
    <message>
        <location filename="../../sferum_desktop/ui/person_picker.py" line="161"/>
        <source>Выбор участников</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/person_picker.py" line="166"/>
        <source>Поиск по Ф.И.О.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/person_picker.py" line="169"/>
        <source>Все классы</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/person_picker.py" line="173"/>
        <source>Все роли</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/person_picker.py" line="175"/>
        <source>Сотрудники</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/person_picker.py" line="176"/>
        <source>Ученики</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/person_picker.py" line="177"/>
        <source>Родители</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/person_picker.py" line="198"/>
        <source>Выбрать</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/person_picker.py" line="200"/>
        <source>Отмена</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/person_picker.py" line="206"/>
        <source>Класс:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/person_picker.py" line="208"/>
        <source>Роль:</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ProfilePage</name>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="48"/>
        <source>Учитель</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="49"/>
        <source>Администратор</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="50"/>
        <source>Ученик</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="51"/>
        <source>Родитель</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="54"/>
        <source>Женский</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="55"/>
        <source>Мужской</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="74"/>
        <source>Проверьте свои личные данные</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="77"/>
        <source>Эти данные учебного профиля будут отображаться на платформе Сферум. Если всё верно, нажмите «Продолжить».</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="103"/>
        <source>Продолжить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="107"/>
        <source>Отмена</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="126"/>
        <source>Фамилия</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="127"/>
        <source>Имя</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="128"/>
        <source>Отчество</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="129"/>
        <source>Дата рождения</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="130"/>
        <source>Пол</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="131"/>
        <source>Организация</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="131"/>
        <source>не указана</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="132"/>
        <source>Роли</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="132"/>
        <source>не указаны</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="158"/>
        <source>ФИО в учебном профиле отличается от ФИО в ЭШ (%1).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/linking.py" line="165"/>
        <source>Организация профиля не совпадает с вашей школой в ЭШ.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>RegistrySection</name>
    <message>
        <location filename="../../sferum_desktop/ui/registry_tab.py" line="590"/>
        <source>Чаты</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>SferumDesktop</name>
    <message>
        <location filename="../../sferum_desktop/ui/app.py" line="180"/>
        <source>В программе произошла непредвиденная ошибка.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/app.py" line="185"/>
        <source>Если ошибка повторяется, сообщите в техническую поддержку и приложите журнал: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/app.py" line="190"/>
        <source>Ошибка</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/app.py" line="291"/>
        <source>Серверы вашего региона ещё не настроены (файл профилей: %1; общий для всех пользователей компьютера: %2). Пока доступна учебная среда «Демо».</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/app.py" line="415"/>
        <source>В системе нет доступного хранилища паролей (связки ключей), поэтому вход не будет запомнен: после закрытия программы войдите снова.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/app.py" line="471"/>
        <source>Вы вышли. Данные входа удалены с этого компьютера.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/app.py" line="475"/>
        <source>Сервер не удалось уведомить: сеанс на сервере завершится по истечении срока.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/common.py" line="36"/>
        <source>Сервер VK ID</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/common.py" line="38"/>
        <source>Сервер Сферума</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/common.py" line="39"/>
        <source>Сервер ЭШ</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/common.py" line="45"/>
        <source>Неверное имя пользователя или пароль.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/common.py" line="48"/>
        <source>Слишком много неудачных попыток входа. Повторите попытку через %n мин.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/common.py" line="58"/>
        <source>Сервер ЭШ недоступен. Проверьте подключение к интернету и повторите попытку.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/common.py" line="62"/>
        <source>%1 недоступен. Проверьте подключение к интернету и повторите попытку.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/common.py" line="66"/>
        <source>%1 временно не работает. Повторите попытку позже.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>SferumTab</name>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="200"/>
        <source>Чтобы видеть свои чаты и видеоконференции, войдите в Сферум через VK ID.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="204"/>
        <source>Войти через VK ID</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="244"/>
        <source>Присоединиться</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="249"/>
        <source>Сейчас нет видеоконференций, к которым можно присоединиться.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="253"/>
        <source>Чаты</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="256"/>
        <source>Видеоконференции</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="267"/>
        <source>Обновить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="286"/>
        <source>Сферум</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="337"/>
        <source>Обновление…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="353"/>
        <source>Показаны данные последнего обновления.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="355"/>
        <source>Нет связи с сервером Сферума.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="373"/>
        <source>Обновлено в %1</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>SignInWindow</name>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="44"/>
        <source>администратор</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="45"/>
        <source>учитель</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="46"/>
        <source>ученик</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="47"/>
        <source>родитель</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="116"/>
        <location filename="../../sferum_desktop/ui/signin.py" line="125"/>
        <source>Вход в ЭШ</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="128"/>
        <source>Сервер</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="137"/>
        <location filename="../../sferum_desktop/ui/signin.py" line="140"/>
        <source>Имя пользователя</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="143"/>
        <location filename="../../sferum_desktop/ui/signin.py" line="146"/>
        <source>Пароль</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="159"/>
        <location filename="../../sferum_desktop/ui/signin.py" line="345"/>
        <source>ВОЙТИ</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="172"/>
        <source>Войти через госуслуги</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="271"/>
        <source>Учебная среда запускается…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="273"/>
        <source>Учебная среда</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="274"/>
        <source>данные вымышлены. Пароль у всех учётных записей: demo.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="281"/>
        <source>Учётные записи ЭШ:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="288"/>
        <source>Ещё не привязаны к Сферуму:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="345"/>
        <source>Вход…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="358"/>
        <source>Введите имя пользователя и пароль.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>StartPage</name>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="45"/>
        <source>Учитель</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="46"/>
        <source>Администратор Сферума школы</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="47"/>
        <source>Ученик</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="48"/>
        <source>Родитель</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="74"/>
        <source>Привязать аккаунт к Сферум</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="89"/>
        <source>Перед началом работы в мессенджере нужно однократно связать свой аккаунт ЭШ с учебным профилем VK ID.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="113"/>
        <source>Здравствуйте, %1!</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="128"/>
        <source>Аккаунт ЭШ связан с учебным профилем Сферума. Ваши чаты и видеоконференции — на вкладке &lt;a href=&quot;#sferum&quot;&gt;«Сферум»&lt;/a&gt;.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="133"/>
        <source>Аккаунт ЭШ связан с учебным профилем Сферума. Чтобы видеть чаты на этом компьютере, войдите через VK ID на вкладке &lt;a href=&quot;#sferum&quot;&gt;«Сферум»&lt;/a&gt;.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="140"/>
        <source>Чтобы общаться в чатах Сферума, выберите в меню «Сферум» пункт «Авторизация в Сферум».</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>SyncTab</name>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="87"/>
        <source>зачисление</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="88"/>
        <source>отчисление</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="89"/>
        <source>перевод</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="90"/>
        <source>трудоустройство</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="91"/>
        <source>увольнение</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="92"/>
        <source>назначение</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="93"/>
        <source>снятие с назначения</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="94"/>
        <source>добавлен представитель</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="95"/>
        <source>удалён представитель</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="96"/>
        <source>блокировка</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="97"/>
        <source>разблокировка</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="98"/>
        <source>связывание со Сферумом</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="99"/>
        <source>отвязка от Сферума</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="100"/>
        <source>ручное изменение</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="101"/>
        <source>правило состава</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="393"/>
        <source>Проверить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="395"/>
        <source>Применить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="398"/>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="742"/>
        <source>Отмена</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="401"/>
        <source>Автоматический режим</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="408"/>
        <source> мин</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="409"/>
        <source>каждые </source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="417"/>
        <source>Нажмите «Проверить», чтобы увидеть, что изменится.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="424"/>
        <source>%v из %m</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="435"/>
        <source>Чат / участник</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="435"/>
        <source>Причина</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="439"/>
        <source>План</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="441"/>
        <source>Журнал</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="462"/>
        <source>Для синхронизации войдите в Сферум: меню «Сферум» → «Авторизация в Сферум».</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="497"/>
        <source>Чтение ЭШ и Сферума…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="513"/>
        <source>Выполнено %1 из %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="516"/>
        <source>, осталось %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="519"/>
        <source>Составление плана…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="521"/>
        <source>Завершение прерванной синхронизации…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="606"/>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="607"/>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="632"/>
        <source>в реестре</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="608"/>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="609"/>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="634"/>
        <source>в Сферуме</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="632"/>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="634"/>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="667"/>
        <source>Создать чат</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="637"/>
        <source>+ добавить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="642"/>
        <source>− удалить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="647"/>
        <source>ожидают привязки</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="648"/>
        <source>не связал аккаунт со Сферумом</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="652"/>
        <source>задержано</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="678"/>
        <source>Создать чатов: %1, добавить: %2, удалить: %3, ожидают привязки: %4, задержано: %5</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="687"/>
        <source>. Изменений нет: чаты соответствуют ЭШ.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="689"/>
        <source>. Задержанные удаления применяются только после подтверждения.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="717"/>
        <source> Применение отменено: нужно подтверждение.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="733"/>
        <source>Подтверждение удаления</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="735"/>
        <source>План удаляет необычно много участников:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="739"/>
        <source>Применить эти удаления?</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="741"/>
        <source>Удалить и применить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="756"/>
        <source>Синхронизация не завершена</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="758"/>
        <source>Отменено. Выполнено операций: %1; остальное — при следующем запуске.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="763"/>
        <source>План изменился после проверки: появились другие удаления. Ничего не применено — нажмите «Проверить» и подтвердите снова.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="769"/>
        <source>План содержит задержанные удаления: нажмите «Проверить» и подтвердите.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="772"/>
        <source>Готово. Выполнено операций: %1.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="774"/>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="846"/>
        <source>Синхронизация завершена</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="784"/>
        <source>Отмена: завершается текущий пакет…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="837"/>
        <source>Синхронизация не удалась</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="840"/>
        <source>Синхронизация ждёт подтверждения</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="841"/>
        <source>Удаление многих участников задержано: откройте «Синхронизация».</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="845"/>
        <source>Выполнено операций: %1.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="879"/>
        <source>Создание чата в Сферуме…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="892"/>
        <source>Применение в Сферуме: %1 из %2</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="899"/>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="924"/>
        <source>Чат сохранён</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="900"/>
        <source>Чат появится в Сферуме после входа в Сферум и синхронизации.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="912"/>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="918"/>
        <source>Чат сохранён, но не применён в Сферуме</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="921"/>
        <source>Чат «%1» есть в Сферуме.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sync_tab.py" line="923"/>
        <source> Ожидают привязки: %1.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
</TS>
