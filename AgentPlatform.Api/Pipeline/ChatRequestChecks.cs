using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.ServiceDefaults.Http;

namespace AgentPlatform.Api.Pipeline;

/// <summary>The request's own checks: a body within the limit, a chat completion the scanner can read, answers and a model the key may ask for.</summary>
public static class ChatRequestChecks
{
    /// <summary>Reads the body (413 past <paramref name="maxBytes"/>, drained first) and scans it (400 naming what is wrong).</summary>
    public static async ValueTask<OpenAIErrorResult?> ReadAsync(ChatCall call, long maxBytes)
    {
        if (await PooledRequestBody.ReadOrDrainAsync(call.Context, maxBytes) is not { } body)
        {
            return TooLarge(maxBytes);
        }
        call.Body = body;
        call.Scan = ChatRequestScanner.Scan(body.Span, call.Api);
        if (!call.Scan.IsValid)
        {
            var (message, param) = ChatRequestScanner.Describe(call.Scan.Problem);
            return new OpenAIErrorResult(StatusCodes.Status400BadRequest, message, OpenAIError.InvalidRequest, param: param);
        }
        return null;
    }

    /// <summary>At most <paramref name="maxChoices"/> answers (<c>n</c>), and a model group the key and its tenant allow (whose name is then kept).</summary>
    public static OpenAIErrorResult? Check(ChatCall call, int maxChoices)
    {
        var scan = call.Scan;
        if (scan.Choices > maxChoices)
        {
            return OpenAIErrorResult.BadRequest(
                $"'n' may be at most {maxChoices} here (AgentPlatform:MaxChoices); this request asks for {scan.Choices} answers.", "invalid_value", "n");
        }
        if (!call.Client.AllowsModel(scan.Model!))
        {
            return NotAllowed(scan.Model!);
        }
        // Allowed: the name is kept (a model the pool does not know goes back to "unknown" when the Router says so).
        call.Record.Model = scan.Model;
        return null;
    }

    /// <summary>The 413 for a body past the limit.</summary>
    public static OpenAIErrorResult TooLarge(long maxBytes) => new(StatusCodes.Status413PayloadTooLarge,
        $"The request body is larger than the limit of {maxBytes} bytes.", OpenAIError.InvalidRequest, "request_too_large");

    /// <summary>The 403 for a model the key (or its tenant) does not allow.</summary>
    public static OpenAIErrorResult NotAllowed(string model) =>
        new(StatusCodes.Status403Forbidden, $"This key may not use the model '{model}'.", OpenAIError.Permission, "model_not_allowed", "model");
}
