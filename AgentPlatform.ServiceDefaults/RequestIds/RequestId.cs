using Microsoft.Extensions.Primitives;

namespace AgentPlatform.ServiceDefaults.RequestIds;

/// <summary>The request id rules shared by every service.</summary>
public static class RequestId
{
    public const string HeaderName = "x-request-id";
    public const string ActivityTagName = "agentplatform.request_id";

    /// <summary>Longest client-supplied id that is kept; longer ones are replaced, not truncated.</summary>
    public const int MaxLength = 128;

    /// <summary>
    /// The client's id when it is valid (1 to 128 characters of letters, digits, <c>- _ . :</c>;
    /// nothing that could forge a log line or a header), otherwise a new one.
    /// </summary>
    public static string FromHeaderOrNew(StringValues header) =>
        header.Count == 1 && IsValid(header[0]) ? header[0]! : New();

    public static bool IsValid(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxLength)
        {
            return false;
        }
        foreach (var c in value)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.' or ':'))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>A new id: <c>req_</c> and a version 7 GUID, so ids sort by time.</summary>
    public static string New() => string.Create(36, Guid.CreateVersion7(), static (span, guid) =>
    {
        "req_".CopyTo(span);
        guid.TryFormat(span[4..], out _, "N");
    });
}
