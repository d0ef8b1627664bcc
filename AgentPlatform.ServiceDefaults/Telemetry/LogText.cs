namespace AgentPlatform.ServiceDefaults.Telemetry;

/// <summary>
/// Text from outside (a path a caller sent, a provider's error, a tool server's answer) made fit for a
/// log line: control characters — CR and LF above all, which would let it forge lines in a plain-text
/// log — shown as <c>\uXXXX</c>, and its length bounded.
/// </summary>
public static class LogText
{
    public const int DefaultMaxLength = 300;

    public static string Safe(string? text, int maxLength = DefaultMaxLength)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "";
        }
        var cut = text.Length > maxLength;
        var span = cut ? text.AsSpan(0, maxLength) : text.AsSpan();
        if (!cut && !span.ContainsAnyInRange('\0', '\u001f') && !span.Contains('\u007f'))
        {
            return text; // the usual case: nothing to do, nothing allocated
        }
        var safe = new System.Text.StringBuilder(span.Length + 16);
        foreach (var c in span)
        {
            if (char.IsControl(c))
            {
                safe.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                safe.Append(c);
            }
        }
        return cut ? safe.Append("…").ToString() : safe.ToString();
    }
}
