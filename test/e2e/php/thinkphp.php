<?php
/** Stand-ins for the ThinkPHP pieces the controller touches (nothing else of the framework). */

namespace app {
    if (!class_exists('app\\BaseController', false)) {
        abstract class BaseController
        {
        }
    }
}

namespace {
    if (!function_exists('input')) {
        /** ThinkPHP's input('post.name'): a field of the request body ($_POST, filled from JSON by the runner). */
        function input($key = '', $default = null)
        {
            list($source, $name) = strpos($key, '.') !== false ? explode('.', $key, 2) : array('param', $key);
            $data = $source === 'get' ? $_GET : ($source === 'post' ? $_POST : array_merge($_GET, $_POST));
            if ($name === '') {
                return $data;
            }
            return array_key_exists($name, $data) ? $data[$name] : $default;
        }
    }

    if (!function_exists('success')) {
        /** The seed's success($msg, $data): the JSON answer its API returns. */
        function success($msg, $data = array())
        {
            return array('code' => 200, 'msg' => $msg, 'data' => $data);
        }
    }
}
