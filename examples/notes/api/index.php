<?php
// The notes API: POST /notes {"body": "..."} -> 201 {"note_id": N}; GET /notes/N -> 200 {"note_id", "body"};
// GET /health -> 200 (no database). A new database connection for every request, as many PHP apps do.
header('Content-Type: application/json');
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$method = $_SERVER['REQUEST_METHOD'];

function reply(int $status, array $body): void {
    http_response_code($status);
    echo json_encode($body);
}

function database(): PDO {
    return new PDO(getenv('NOTES_DSN'), 'notes_app', getenv('NOTES_APP_PASSWORD'),
                   [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION, PDO::ATTR_TIMEOUT => 2]);
}

if ($path === '/health') {
    reply(200, ['status' => 'ok']);
    exit;
}
try {
    if ($method === 'POST' && $path === '/notes') {
        $input = json_decode(file_get_contents('php://input'), true);
        if (!is_array($input) || !isset($input['body'])) {
            reply(400, ['error' => 'expected JSON {"body": "..."}']);
            exit;
        }
        $statement = database()->prepare('INSERT INTO notes (body) VALUES (?) RETURNING note_id');
        $statement->execute([(string) $input['body']]);
        reply(201, ['note_id' => (int) $statement->fetchColumn()]);
    } elseif ($method === 'GET' && preg_match('#^/notes/(\d+)$#', $path, $match)) {
        $statement = database()->prepare('SELECT note_id, body FROM notes WHERE note_id = ?');
        $statement->execute([(int) $match[1]]);
        $row = $statement->fetch(PDO::FETCH_ASSOC);
        $row ? reply(200, $row) : reply(404, ['error' => 'no such note']);
    } else {
        reply(404, ['error' => 'not found']);
    }
} catch (PDOException $failure) {
    error_log('notes: database error: ' . get_class($failure) . ': ' . str_replace("\n", ' ', $failure->getMessage()));
    reply(503, ['error' => get_class($failure), 'detail' => $failure->getMessage()]);
}
