<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en_GB" sourcelanguage="ru_RU">
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
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="151"/>
        <source>Видеоконференция</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="151"/>
        <source>Начата</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ChatsModel</name>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="78"/>
        <source>Чат</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="79"/>
        <source>Последнее сообщение</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="80"/>
        <source>Время</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="81"/>
        <source>Непрочитанные</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="121"/>
        <source>Вы: </source>
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
        <location filename="../../sferum_desktop/ui/main_window.py" line="169"/>
        <source>Sferum Desktop — ЭШ</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="184"/>
        <source>Главная</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="185"/>
        <location filename="../../sferum_desktop/ui/main_window.py" line="214"/>
        <location filename="../../sferum_desktop/ui/main_window.py" line="262"/>
        <source>Сферум</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="199"/>
        <source>Учебная среда: данные вымышлены</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="207"/>
        <source>Учётная запись</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="208"/>
        <source>Выйти</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="210"/>
        <source>Ctrl+Shift+Q</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="215"/>
        <location filename="../../sferum_desktop/ui/main_window.py" line="297"/>
        <source>Авторизация в Сферум</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="219"/>
        <source>Чаты и видеоконференции</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="222"/>
        <source>Обновить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="227"/>
        <source>Справка</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="228"/>
        <location filename="../../sferum_desktop/ui/main_window.py" line="340"/>
        <source>О программе</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="295"/>
        <source>Привязать аккаунт к Сферум</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="342"/>
        <source>Sferum Desktop %1 — чаты Сферума школы из ЭШ.</source>
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
    <name>SferumDesktop</name>
    <message>
        <location filename="../../sferum_desktop/ui/app.py" line="179"/>
        <source>В программе произошла непредвиденная ошибка.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/app.py" line="184"/>
        <source>Если ошибка повторяется, сообщите в техническую поддержку и приложите журнал: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/app.py" line="189"/>
        <source>Ошибка</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/app.py" line="285"/>
        <source>Серверы вашего региона ещё не настроены (файл профилей: %1). Пока доступна учебная среда «Демо».</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/app.py" line="407"/>
        <source>В системе нет доступного хранилища паролей (связки ключей), поэтому вход не будет запомнен: после закрытия программы войдите снова.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/app.py" line="463"/>
        <source>Вы вышли. Данные входа удалены с этого компьютера.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/app.py" line="467"/>
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
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="219"/>
        <source>Чтобы видеть свои чаты и видеоконференции, войдите в Сферум через VK ID.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="223"/>
        <source>Войти через VK ID</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="263"/>
        <source>Присоединиться</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="268"/>
        <source>Сейчас нет видеоконференций, к которым можно присоединиться.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="272"/>
        <source>Чаты</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="275"/>
        <source>Видеоконференции</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="286"/>
        <source>Обновить</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="305"/>
        <source>Сферум</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="356"/>
        <source>Обновление…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="372"/>
        <source>Показаны данные последнего обновления.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="374"/>
        <source>Нет связи с сервером Сферума.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/sferum_tab.py" line="392"/>
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
        <location filename="../../sferum_desktop/ui/signin.py" line="340"/>
        <source>ВОЙТИ</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="172"/>
        <source>Войти через госуслуги</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="266"/>
        <source>Учебная среда запускается…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="268"/>
        <source>Учебная среда</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="269"/>
        <source>данные вымышлены. Пароль у всех учётных записей: demo.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="276"/>
        <source>Учётные записи ЭШ:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="283"/>
        <source>Ещё не привязаны к Сферуму:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="340"/>
        <source>Вход…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/signin.py" line="353"/>
        <source>Введите имя пользователя и пароль.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>StartPage</name>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="43"/>
        <source>Учитель</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="44"/>
        <source>Администратор Сферума школы</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="45"/>
        <source>Ученик</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="46"/>
        <source>Родитель</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="72"/>
        <source>Привязать аккаунт к Сферум</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="87"/>
        <source>Перед началом работы в мессенджере нужно однократно связать свой аккаунт ЭШ с учебным профилем VK ID.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="111"/>
        <source>Здравствуйте, %1!</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="126"/>
        <source>Аккаунт ЭШ связан с учебным профилем Сферума. Ваши чаты и видеоконференции — на вкладке &lt;a href=&quot;#sferum&quot;&gt;«Сферум»&lt;/a&gt;.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="131"/>
        <source>Аккаунт ЭШ связан с учебным профилем Сферума. Чтобы видеть чаты на этом компьютере, войдите через VK ID на вкладке &lt;a href=&quot;#sferum&quot;&gt;«Сферум»&lt;/a&gt;.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../../sferum_desktop/ui/main_window.py" line="138"/>
        <source>Чтобы общаться в чатах Сферума, выберите в меню «Сферум» пункт «Авторизация в Сферум».</source>
        <translation type="unfinished"></translation>
    </message>
</context>
</TS>
