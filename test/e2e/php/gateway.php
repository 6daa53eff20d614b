<?php
/**
 * Calls one GatewayClient\Gateway method through the drop-in and prints
 * {"result", "export"} (export: var_export of the PHP value, which shows its
 * keys and types) or {"exception": {"message", "code"}}:
 *
 *     IM_API_KEY=... IM_GATEWAY_URL=... php gateway.php getUidListByGroup '[9100]'
 *
 * IM_SECRET_KEY, when set, goes to Gateway::$secretKey (which wins over IM_API_KEY).
 */

require __DIR__ . '/bootstrap.php';

use GatewayClient\Gateway;

$method = isset($argv[1]) ? $argv[1] : harness_fail('usage: gateway.php <method> <JSON array of arguments>');
$args = harness_json_arg(2);
Gateway::$registerAddress = getenv('IM_GATEWAY_URL') ?: harness_fail('IM_GATEWAY_URL is not set');
if (getenv('IM_SECRET_KEY') !== false) {
    Gateway::$secretKey = getenv('IM_SECRET_KEY');
}
try {
    $result = call_user_func_array(array(Gateway::class, $method), $args);
    echo json_encode(array('result' => $result, 'export' => var_export($result, true)), JSON_UNESCAPED_UNICODE), "\n";
} catch (Exception $e) {
    echo json_encode(array('exception' => array('message' => $e->getMessage(), 'code' => $e->getCode())), JSON_UNESCAPED_UNICODE), "\n";
}
