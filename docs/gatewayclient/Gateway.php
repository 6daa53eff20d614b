<?php
/**
 * A drop-in GatewayClient\Gateway that speaks HTTP to edge-im.
 *
 * It replaces the workerman/gatewayclient package: the same class, the same
 * static methods with the same arguments and PHP return shapes, but each call
 * is `POST {registerAddress}/{method}` with the arguments as JSON
 * (`/api/v1/gateway/...`, see docs/http-api.md). A backend written for
 * GatewayWorker changes ONE line, the register address:
 *
 *     Gateway::$registerAddress = 'https://im.example.com/api/v1/gateway';
 *
 * The API key is Gateway::$secretKey when set, else the IM_API_KEY
 * environment variable; it is sent as `Authorization: Bearer <key>`.
 *
 * Only php-cli is needed (json and the built-in http/https stream wrapper;
 * no curl). An error answer throws \Exception("<code>: <message>", <HTTP
 * status>), an unreachable server \Exception(..., 0). Client ids are opaque
 * strings (here `uid:device`, as getClientIdByUid gives them). What the
 * server does not offer (sessions, sending to one client, cluster-wide client
 * lists) throws an \Exception naming what to use instead. $raw arguments
 * are accepted and ignored (frames are text).
 *
 * Install: require edge-im/gatewayclient (composer.json beside this file,
 * e.g. as a path repository) in place of workerman/gatewayclient, or just
 * require_once this file.
 */

namespace GatewayClient;

use Exception;

class Gateway
{
    /** Base URL of the gateway routes, e.g. 'https://im.example.com/api/v1/gateway' (an array: the first is used). */
    public static $registerAddress = '127.0.0.1:1236';

    /** The API key; empty means getenv('IM_API_KEY'). */
    public static $secretKey = '';

    /** Seconds to wait for an answer (GatewayClient's connect timeout; here the whole request's). */
    public static $connectTimeout = 3;

    /** Kept for compatibility: every call is one HTTP request. */
    public static $persistentConnection = false;

    /** Kept for compatibility: there are no gateway addresses to cache. */
    public static $addressesCacheDisable = false;

    /** The last decoded answer, e.g. `deliveries` of a send (how each target was reached, or why not). */
    public static $lastResponse = null;

    // --- sending -----------------------------------------------------------

    /** Sends $message (usually json_encode output) to every device of the user(s). */
    public static function sendToUid($uid, $message, $raw = false)
    {
        static::call('sendToUid', array('uid' => static::ids($uid), 'message' => static::text($message)));
    }

    /** Sends $message to the online members of the group(s), except the client(s) in $exclude_client_id. */
    public static function sendToGroup($group, $message, $exclude_client_id = null, $raw = false)
    {
        if (!static::isValidGroupId($group)) {
            return;
        }
        static::call('sendToGroup', array('group' => static::ids($group), 'message' => static::text($message), 'exclude_client' => static::ids($exclude_client_id)));
    }

    /** Sends $message to every user online now ($client_id_array and $exclude_client_id must be null). */
    public static function sendToAll($message, $client_id_array = null, $exclude_client_id = null, $raw = false)
    {
        if (is_array($client_id_array) && empty($client_id_array)) {
            return; // GatewayClient sends nothing for an empty list
        }
        static::call('sendToAll', array(
            'message' => static::text($message),
            'client_id_array' => static::ids($client_id_array),
            'exclude_client_id' => static::ids($exclude_client_id),
        ));
    }

    public static function sendToClient($client_id, $message, $raw = false)
    {
        throw static::unsupported('sendToClient', 'sendToUid($uid, $message): a message goes to all of a user\'s devices');
    }

    public static function sendToCurrentClient($message, $raw = false)
    {
        throw static::unsupported('sendToCurrentClient', 'sendToUid($uid, $message): there is no current client outside GatewayWorker');
    }

    // --- presence ----------------------------------------------------------

    /** @return int 0|1 */
    public static function isUidOnline($uid)
    {
        return (int)static::call('isUidOnline', array('uid' => $uid));
    }

    /** @return int 0|1 */
    public static function isOnline($client_id)
    {
        return (int)static::call('isOnline', array('client_id' => $client_id));
    }

    /** @return array the user's client ids, indexed 0..n-1 */
    public static function getClientIdByUid($uid)
    {
        return array_values((array)static::call('getClientIdByUid', array('uid' => $uid)));
    }

    /** @return array uid => client ids (one request per uid) */
    public static function batchGetClientIdByUid($uid_array)
    {
        $out = array();
        foreach ((array)$uid_array as $uid) {
            $out[$uid] = static::getClientIdByUid($uid);
        }
        return $out;
    }

    /** @return int|string|null the client's uid, null when it is not connected */
    public static function getUidByClientId($client_id)
    {
        return static::call('getUidByClientId', array('client_id' => $client_id));
    }

    /** @return array uid => uid of everyone online */
    public static function getAllUidList()
    {
        return static::selfKeyed(static::call('getAllUidList', array()));
    }

    /** @return int */
    public static function getAllUidCount()
    {
        return (int)static::call('getAllUidCount', array());
    }

    /** @return array uid => uid of the group's online members */
    public static function getUidListByGroup($group)
    {
        if (!static::isValidGroupId($group)) {
            return array();
        }
        return static::selfKeyed(static::call('getUidListByGroup', array('group' => $group)));
    }

    /** @return int */
    public static function getUidCountByGroup($group)
    {
        if (!static::isValidGroupId($group)) {
            return 0;
        }
        return (int)static::call('getUidCountByGroup', array('group' => $group));
    }

    /** @return array client_id => client_id of the group's connected clients */
    public static function getClientIdListByGroup($group)
    {
        if (!static::isValidGroupId($group)) {
            return array();
        }
        return static::selfKeyed(static::call('getClientIdListByGroup', array('group' => $group)));
    }

    /** @return int */
    public static function getClientIdCountByGroup($group = '')
    {
        if ($group === '' || $group === null) {
            throw static::unsupported('getClientIdCountByGroup() without a group', 'getAllUidCount()');
        }
        return (int)static::call('getClientIdCountByGroup', array('group' => $group));
    }

    /** GatewayClient's alias of getClientIdCountByGroup. */
    public static function getClientCountByGroup($group = '')
    {
        return static::getClientIdCountByGroup($group);
    }

    /** @return array client_id => session; sessions are not kept, so each is array() */
    public static function getClientSessionsByGroup($group)
    {
        if (!static::isValidGroupId($group)) {
            return array();
        }
        $out = array();
        foreach ((array)static::call('getClientSessionsByGroup', array('group' => $group)) as $client_id => $session) {
            $out[$client_id] = $session === null ? array() : $session;
        }
        return $out;
    }

    /** GatewayClient's deprecated alias of getClientSessionsByGroup. */
    public static function getClientInfoByGroup($group)
    {
        return static::getClientSessionsByGroup($group);
    }

    public static function getAllClientIdList()
    {
        throw static::unsupported('getAllClientIdList', 'getAllUidList(), then getClientIdByUid($uid)');
    }

    public static function getAllClientIdCount()
    {
        throw static::unsupported('getAllClientIdCount', 'getAllUidCount()');
    }

    public static function getAllClientCount()
    {
        throw static::unsupported('getAllClientCount', 'getAllUidCount()');
    }

    public static function getAllClientSessions($group = '')
    {
        if ($group !== '' && $group !== null) {
            return static::getClientSessionsByGroup($group);
        }
        throw static::unsupported('getAllClientSessions() without a group', 'getAllUidList(); sessions are not kept');
    }

    public static function getAllClientInfo($group = '')
    {
        return static::getAllClientSessions($group);
    }

    public static function getAllGroupIdList()
    {
        throw static::unsupported('getAllGroupIdList', 'GET /api/v1/users/{uid}/groups, or your own group table');
    }

    public static function getAllGroupUidList()
    {
        throw static::unsupported('getAllGroupUidList', 'getUidListByGroup($group) for each group');
    }

    public static function getAllGroupUidCount()
    {
        throw static::unsupported('getAllGroupUidCount', 'getUidCountByGroup($group) for each group');
    }

    public static function getAllGroupClientIdList()
    {
        throw static::unsupported('getAllGroupClientIdList', 'getClientIdListByGroup($group) for each group');
    }

    public static function getAllGroupClientIdCount()
    {
        throw static::unsupported('getAllGroupClientIdCount', 'getClientIdCountByGroup($group) for each group');
    }

    // --- connections, groups, uids -----------------------------------------

    /** Closes one client's socket, telling it $message. */
    public static function closeClient($client_id, $message = null)
    {
        static::call('closeClient', array('client_id' => $client_id, 'message' => $message));
        return true;
    }

    /** GatewayClient's (misspelt) immediate close: the same as closeClient here. */
    public static function destoryClient($client_id)
    {
        return static::closeClient($client_id);
    }

    public static function closeCurrentClient($message = null)
    {
        throw static::unsupported('closeCurrentClient', 'closeClient($client_id)');
    }

    public static function destoryCurrentClient()
    {
        throw static::unsupported('destoryCurrentClient', 'closeClient($client_id)');
    }

    /** Membership belongs to the client's user and outlives the connection. */
    public static function joinGroup($client_id, $group)
    {
        static::call('joinGroup', array('client_id' => $client_id, 'group' => $group));
    }

    public static function leaveGroup($client_id, $group)
    {
        static::call('leaveGroup', array('client_id' => $client_id, 'group' => $group));
    }

    /** Dismisses the group. */
    public static function ungroup($group)
    {
        if (!static::isValidGroupId($group)) {
            return false;
        }
        static::call('ungroup', array('group' => $group));
    }

    /** A socket's user is its token's: binding a client to its own uid is a no-op, to another refused. */
    public static function bindUid($client_id, $uid)
    {
        static::call('bindUid', array('client_id' => $client_id, 'uid' => $uid));
    }

    public static function unbindUid($client_id, $uid)
    {
        static::call('unbindUid', array('client_id' => $client_id, 'uid' => $uid));
    }

    // --- sessions: not kept ------------------------------------------------

    public static function setSession($client_id, array $session)
    {
        throw static::unsupported('setSession', 'your own store keyed by uid: connections carry no session here');
    }

    public static function updateSession($client_id, array $session)
    {
        throw static::unsupported('updateSession', 'your own store keyed by uid: connections carry no session here');
    }

    public static function getSession($client_id)
    {
        throw static::unsupported('getSession', 'your own store keyed by uid (getUidByClientId($client_id) gives the uid)');
    }

    public static function setBusinessWorker($business_worker_instance)
    {
        throw static::unsupported('setBusinessWorker', 'nothing: there is no BusinessWorker, only HTTP calls');
    }

    /** Any other GatewayClient method. */
    public static function __callStatic($name, $arguments)
    {
        throw static::unsupported($name, 'the HTTP API (docs/http-api.md)');
    }

    // --- HTTP --------------------------------------------------------------

    /**
     * POSTs $args as JSON to {registerAddress}/{method} and returns the answer's `result`.
     *
     * @throws Exception "<code>: <message>" with the HTTP status as its code (0: no answer)
     */
    protected static function call($method, array $args)
    {
        $base = is_array(static::$registerAddress) ? reset(static::$registerAddress) : static::$registerAddress;
        if (!preg_match('#^https?://#i', (string)$base)) {
            throw new Exception("Gateway::\$registerAddress must be the server's gateway URL, e.g. 'https://im.example.com/api/v1/gateway', not '$base'", 0);
        }
        $url = rtrim($base, '/') . '/' . $method;
        $key = static::$secretKey !== '' && static::$secretKey !== null ? static::$secretKey : getenv('IM_API_KEY');
        $body = json_encode((object)$args, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_PRESERVE_ZERO_FRACTION);
        if ($body === false) {
            throw new Exception("$method: the arguments are not JSON-encodable: " . json_last_error_msg(), 0);
        }
        $context = stream_context_create(array('http' => array(
            'method' => 'POST',
            'header' => "Content-Type: application/json\r\nAccept: application/json\r\n" .
                ($key ? "Authorization: Bearer $key\r\n" : ''),
            'content' => $body,
            'timeout' => (float)static::$connectTimeout,
            'ignore_errors' => true, // read the JSON error of a 4xx/5xx instead of failing
            'protocol_version' => 1.1,
        )));
        $text = @file_get_contents($url, false, $context);
        if ($text === false) {
            $err = error_get_last();
            throw new Exception("$method: cannot reach $url" . ($err ? ': ' . $err['message'] : ''), 0);
        }
        $headers = function_exists('http_get_last_response_headers') ? http_get_last_response_headers() : $http_response_header;
        $status = 0;
        foreach ((array)$headers as $line) {
            if (preg_match('#^HTTP/\S+\s+(\d{3})#', $line, $m)) {
                $status = (int)$m[1]; // the last status line wins (after redirects)
            }
        }
        $answer = json_decode($text, true, 512, JSON_BIGINT_AS_STRING);
        static::$lastResponse = $answer;
        if ($status < 200 || $status > 299) {
            $code = isset($answer['error']['code']) ? $answer['error']['code'] : 'http_' . $status;
            $message = isset($answer['error']['message']) ? $answer['error']['message'] : substr($text, 0, 200);
            throw new Exception("$code: $message", $status);
        }
        if (!is_array($answer) || !array_key_exists('result', $answer)) {
            throw new Exception("$method: unexpected answer from $url: " . substr($text, 0, 200), $status);
        }
        return $answer['result'];
    }

    /** The message as sent: a string unchanged (json_encode output), other scalars as text, arrays as JSON objects. */
    protected static function text($message)
    {
        return is_scalar($message) && !is_string($message) ? (string)$message : $message;
    }

    /** An id or a list of ids; a list is sent as a JSON array even when keyed (getAllUidList's uid => uid). */
    protected static function ids($v)
    {
        return is_array($v) ? array_values($v) : $v;
    }

    /** A list as GatewayClient returns it: each value keyed by itself. */
    protected static function selfKeyed($list)
    {
        $out = array();
        foreach ((array)$list as $v) {
            $out[$v] = $v;
        }
        return $out;
    }

    /** GatewayClient ignores empty groups (0, '0', '', null, array()). */
    protected static function isValidGroupId($group)
    {
        return !empty($group);
    }

    protected static function unsupported($what, $instead)
    {
        return new Exception("GatewayClient\\Gateway::$what is not offered by edge-im; use $instead", 0);
    }
}
