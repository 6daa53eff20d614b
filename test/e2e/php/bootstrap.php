<?php
/**
 * The least of ThinkPHP and Composer the seed's RestfulApi controller needs,
 * so test/e2e/gatewayclient.e2e.test.ts can run it with php-cli alone:
 * an autoloader (GatewayClient\Gateway is docs/gatewayclient/Gateway.php,
 * the drop-in this test exercises; the controller is RestfulApi.php here),
 * app\BaseController, input('post.x') and success().
 */

spl_autoload_register(function ($class) {
    $files = array(
        'GatewayClient\\Gateway' => __DIR__ . '/../../../docs/gatewayclient/Gateway.php',
        'app\\workerman\\controller\\RestfulApi' => __DIR__ . '/RestfulApi.php',
        'app\\BaseController' => __DIR__ . '/thinkphp.php',
    );
    if (isset($files[$class])) {
        require_once $files[$class];
    }
});

require_once __DIR__ . '/thinkphp.php';

/** Fails the process (exit 2) with $what on stderr: a usage error of the harness, not of the code under test. */
function harness_fail($what)
{
    fwrite(STDERR, "harness: $what\n");
    exit(2);
}

/** The JSON argument $i of the command line, decoded (objects as arrays, as ThinkPHP parses a JSON body). */
function harness_json_arg($i)
{
    global $argv;
    if (!isset($argv[$i])) {
        harness_fail("argument $i (JSON) missing");
    }
    $v = json_decode($argv[$i], true);
    if (json_last_error() !== JSON_ERROR_NONE) {
        harness_fail("argument $i is not JSON: " . json_last_error_msg());
    }
    return $v;
}
