using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace AgentPlatform.Contracts.Anthropic;

/// <summary>
/// Errors in Anthropic's shape, <c>{"type":"error","error":{"type","message"}}</c>, for requests that came
/// through the Messages door (<see cref="IsMessagesDoor"/>): Anthropic's SDKs read the status and this
/// shape. The platform's code (<c>budget_exceeded</c>, <c>model_not_allowed</c>...) rides along as
/// <c>error.code</c>, which they ignore and a person or a log can read.
/// </summary>
public static class AnthropicError
{
    /// <summary>Whether the request came through <c>/v1/messages</c> (or its <c>count_tokens</c>): its errors are Anthropic's.</summary>
    public static bool IsMessagesDoor(HttpRequest request) => request.Path.StartsWithSegments("/v1/messages", StringComparison.Ordinal);

    /// <summary>Anthropic's error type for a status: what its SDKs and clients expect beside it.</summary>
    public static string TypeOf(int status) => status switch
    {
        400 or 422 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        _ => "api_error",
    };

    public static void WriteJson(IBufferWriter<byte> output, int status, string message, string? code)
    {
        using var writer = new Utf8JsonWriter(output);
        writer.WriteStartObject();
        writer.WriteString("type", "error");
        writer.WriteStartObject("error");
        writer.WriteString("type", TypeOf(status));
        writer.WriteString("message", message);
        if (code is not null)
        {
            writer.WriteString("code", code);
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>
    /// Writes the error as the <c>error</c> event that ends a Messages stream that fails after it began
    /// (Anthropic's own, for an overload mid-stream). The caller flushes.
    /// </summary>
    public static void WriteEvent(IBufferWriter<byte> output, int status, string message, string? code)
    {
        output.Write("event: error\ndata: "u8);
        WriteJson(output, status, message, code);
        output.Write("\n\n"u8);
    }
}
